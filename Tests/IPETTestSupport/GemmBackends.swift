import IPETTensor

/// Runs `body` once under each GEMM backend (oneDNN, then OpenBLAS) and restores the selection, so a parity test
/// checks both libraries against the same committed fixture: two backends within 1e-4 of one reference are within
/// 2e-4 of each other, and each is within the project's parity bound on its own.
public func forEachGemmBackend(_ body: (GemmBackend) throws -> Void) rethrows {
    let initial = GemmBackend.current
    defer { GemmBackend.current = initial }
    for backend in [GemmBackend.onednn, .openblas] {
        GemmBackend.current = backend
        try body(backend)
    }
}
