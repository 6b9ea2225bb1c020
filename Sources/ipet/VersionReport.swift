import Foundation
import IPETAudio
import IPETEngine
import IPETFormats
import IPETTensor

/// What `ipet --version` prints: the release, the commit it was built from, every native library it linked with
/// its version, and the CPU's vector features, so a bug report or a benchmark names exactly what ran.
enum VersionReport {
    static var text: String {
        var lines = ["ipet \(IPETVersion.string) (commit \(buildGitCommit))"]
        lines.append("libraries:")
        lines.append("  oneDNN      \(Gemm.oneDNNDescription.dropFirst("oneDNN ".count)) (the default GEMM library)")
        lines.append("  OpenBLAS    \(ComputeLibraryVersions.openBLAS)")
        lines.append("  FFTW        \(AudioLibraryVersions.fftw)")
        lines.append("  libsndfile  \(AudioLibraryVersions.sndfile)")
        lines.append("  soxr        \(AudioLibraryVersions.soxr)")
        lines.append("  HDF5        \(NativeLibraryVersions.hdf5)")
        lines.append("  libcrypto   \(NativeLibraryVersions.libcrypto)")
        let features = ComputeLibraryVersions.cpuFeatures
        lines.append("cpu features: " + (features.isEmpty ? "none of avx2, avx512f, avx512_vnni, avx512_bf16, amx" : features.joined(separator: " ")))
        return lines.joined(separator: "\n")
    }
}
