import CBLAS
import CKernels
import Foundation

/// What computes: the BLAS library and the CPU's vector features, for `ipet --version` and `-v`.
public enum ComputeLibraryVersions {
    /// OpenBLAS's build description and the kernel core it chose for this CPU.
    public static var openBLAS: String {
        let config = String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
        return "\(config) (core \(String(cString: openblas_get_corename())))"
    }

    /// The vector ISA features this CPU reports that our kernels and libraries can use.
    public static var cpuFeatures: [String] {
        let names = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"]
        return names.filter { ipet_cpu_supports($0) != 0 }
    }
}
