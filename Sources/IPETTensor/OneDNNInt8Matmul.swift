import CDNNL
import Foundation

/// One oneDNN int8 matmul primitive for one thread, created once per shape and reused:
/// `C[m×n] (int32) = A[m×k] (u8 or s8, row-major, packed rows) · B[k×n] (s8, packed once)`.
///
/// The int32 result is scaled by `Int8Gemm` in a pass of its own (per-row activation scale, per-column weight scale,
/// zero-point correction, bias, GELU) rather than by oneDNN's output scales, because oneDNN 2.6 cannot express a
/// per-row scale (matmul output scales take mask 0 or the last dimension only), and scales that change per call
/// (`DNNL_RUNTIME_F32_VAL`) move it off its brgemm kernels to `gemm:jit`. *Measured* (C harness, one thread, GOP/s;
/// u8·s8 → s32 / the same with run-time per-column f32 output scales, bias and GELU fused): 1214×768×768 439 / 170,
/// 1214×3072×768 380 / 329; float32 runs these at 112 (`docs/native-libraries.md` §7, §8). Run-time source zero points
/// keep brgemm, but would need per-tensor zero points; ours are per row.
///
/// As for float32 (`OneDNNMatmul`): a fixed row count per primitive (brgemm), user-mode scratchpad, up to 512 kept.
final class OneDNNInt8Matmul: @unchecked Sendable {
    struct Key: Hashable {
        var m: Int, n: Int, k: Int
        /// s8 activations (oneDNN adds 128 and subtracts a compensation it stores with the packed weights) or u8.
        var signedSource: Bool
    }

    let key: Key
    private let descriptor: dnnl_primitive_desc_t
    private let primitive: dnnl_primitive_t
    private let sourceLayout: dnnl_memory_desc_t
    /// The blocked layout (and, for s8 sources, the compensation) packed weights are reordered into.
    let weightsLayout: dnnl_memory_desc_t
    private let destinationLayout: dnnl_memory_desc_t
    private let scratchpadLayout: dnnl_memory_desc_t?

    private init(_ key: Key) {
        self.key = key
        var src = OneDNN.matrix(rows: key.m, columns: key.k, rowStride: key.k, columnStride: 1,
                                type: key.signedSource ? dnnl_s8 : dnnl_u8)
        var weights = OneDNN.anyLayout(rows: key.k, columns: key.n, type: dnnl_s8)
        var dst = OneDNN.matrix(rows: key.m, columns: key.n, rowStride: key.n, columnStride: 1, type: dnnl_s32)
        var desc = dnnl_matmul_desc_t()
        OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "describing an int8 matmul")
        var attr: dnnl_primitive_attr_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        OneDNN.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
        OneDNN.useOneThread()
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine.handle, nil), "creating an int8 matmul for \(key)")
        var prim: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&prim, pd), "creating an int8 matmul primitive")
        descriptor = pd!
        primitive = prim!
        sourceLayout = src
        weightsLayout = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0).pointee
        destinationLayout = dst
        var scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee
        scratchpadLayout = dnnl_memory_desc_get_size(&scratch) > 0 ? scratch : nil
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// `c ← a · B` with B the packed weights.
    func run(a: UnsafeRawPointer, packed weights: dnnl_memory_t, c: UnsafeMutablePointer<Int32>) {
        let src = OneDNN.memory(sourceLayout, a)
        let dst = OneDNN.memory(destinationLayout, c)
        defer {
            dnnl_memory_destroy(src)
            dnnl_memory_destroy(dst)
        }
        OneDNN.useOneThread()
        OneDNN.execute(primitive, [
            dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights),
            dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst),
        ], scratchpad: scratchpadLayout)
    }

    // MARK: cache

    nonisolated(unsafe) private static var cache: [Key: OneDNNInt8Matmul] = [:]
    private static let lock = NSLock()
    static let capacity = 512

    /// The primitive for `key`, created on first use (under the lock, like `OneDNNMatmul.cached`).
    static func cached(_ key: Key) -> OneDNNInt8Matmul {
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        if cache.count >= capacity { cache.removeAll() }
        let made = OneDNNInt8Matmul(key)
        cache[key] = made
        return made
    }

    static var cachedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return cache.count
    }
}
