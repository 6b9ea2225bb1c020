import CFFTW

/// Zero-initialised, SIMD-aligned Float memory from `fftwf_alloc_real`, as FFTW's new-array execute requires.
final class FFTWRealBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = fftwf_alloc_real(count)!
        pointer.initialize(repeating: 0, count: count)
    }

    deinit { fftwf_free(pointer) }
}

/// Zero-initialised, SIMD-aligned interleaved complex memory from `fftwf_alloc_complex` (`.0` real, `.1` imaginary).
final class FFTWComplexBuffer {
    let pointer: UnsafeMutablePointer<fftwf_complex>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = fftwf_alloc_complex(count)!
        pointer.initialize(repeating: (0, 0), count: count)
    }

    deinit { fftwf_free(pointer) }
}
