/// The library that runs float32 matrix products (`--gemm`).
///
/// Chosen at run time, not at build time, so one binary can compare the two on the same inputs (`ipet bench gemm`,
/// the backend parity tests) and a host where one misbehaves can fall back without a rebuild.
/// `docs/native-libraries.md` §2 (OpenBLAS) and §7 (oneDNN) say how each is threaded and what it caches.
public enum GemmBackend: String, CaseIterable, Sendable {
    /// OpenBLAS `cblas_sgemm`, always single-threaded; large products are split over `ComputeThreads` by us.
    case openblas
    /// oneDNN matmul primitives, cached per shape, with `Linear` weights packed once into oneDNN's blocked layout,
    /// bias and GELU fused, and oneDNN's own OpenMP threads (as many as `ComputeThreads.count`).
    case onednn

    nonisolated(unsafe) private static var selected: GemmBackend = .onednn

    /// The backend every GEMM uses (default `onednn`). Set it at start-up, or between computations (tests compare
    /// the two), never while one runs: calls in flight read it once and finish on the backend they started with.
    public static var current: GemmBackend {
        get { selected }
        set { selected = newValue }
    }
}
