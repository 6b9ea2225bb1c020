import CFFTW
import Foundation

/// One FFTW single-precision real-to-complex plan of a fixed size, executable from many threads at once.
///
/// FFTW's planner (plan creation and destruction) is not thread-safe, so both happen under `plannerLock`;
/// executing a plan with `fftwf_execute_dft_r2c` on fresh arrays is thread-safe as long as those arrays have the
/// alignment of the planning arrays, which `FFTWRealBuffer`/`FFTWComplexBuffer` (fftwf_malloc) guarantee. `FFTW_ESTIMATE` is used
/// because at n = 512 it plans in ~0.03 ms and runs as fast as a `FFTW_MEASURE` plan (`docs/native-libraries.md` §3).
final class FFTWRealForwardPlan: @unchecked Sendable {
    let size: Int
    private let plan: OpaquePointer

    static let plannerLock = NSLock()

    init(size: Int) {
        precondition(size >= 2, "FFT size must be at least 2")
        self.size = size
        Self.plannerLock.lock()
        defer { Self.plannerLock.unlock() }
        let input = FFTWRealBuffer(count: size)
        let output = FFTWComplexBuffer(count: size / 2 + 1)
        // Out-of-place r2c preserves its input by default, which the zero padding of each frame relies on.
        guard let plan = fftwf_plan_dft_r2c_1d(Int32(size), input.pointer, output.pointer,
                                               UInt32(FFTW_ESTIMATE) | UInt32(FFTW_PRESERVE_INPUT))
        else { fatalError("FFTW could not plan a real FFT of size \(size)") }
        self.plan = plan
    }

    deinit {
        Self.plannerLock.lock()
        fftwf_destroy_plan(plan)
        Self.plannerLock.unlock()
    }

    /// `output[k] = Σ_n input[n] · e^{−2πi·k·n/size}` for k = 0 … size/2.
    func execute(_ input: FFTWRealBuffer, _ output: FFTWComplexBuffer) {
        precondition(input.count >= size && output.count >= size / 2 + 1)
        fftwf_execute_dft_r2c(plan, input.pointer, output.pointer)
    }
}
