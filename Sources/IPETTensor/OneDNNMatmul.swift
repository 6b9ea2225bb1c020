import CDNNL
import Foundation

/// One oneDNN matmul primitive for one thread, created once per shape and element types and reused:
/// `C[m×n] = alpha · A[m×k] · B[k×n] (+ bias[n]) (+ beta · C)`, then the activation, row-major; float32 by default,
/// bfloat16 A and B with float32 C (`Operands.bfloat16`), or u8/s8 A, s8 B and int32 C (`Operands.int8`).
///
/// A, B and C are described by element strides, so transposed operands and column slices (attention heads,
/// convolution taps) need no copy. B is either plain (strided caller memory) or packed: then the primitive chooses
/// its layout (`format_tag_any`) and `OneDNNPackedWeights` reorders each weight matrix into it once.
///
/// Why a fixed `m` per primitive rather than `DNNL_RUNTIME_DIM_VAL` rows: with a run-time row count oneDNN 2.6 leaves
/// its brgemm kernels for the older `gemm:jit` path. *Measured* (C harness, one thread as we run it, best of 20,
/// GFLOP/s; fixed m + packed B / run-time m + packed B / fixed m + plain B): 1214×768×768 112 / 114 / 110,
/// 1214×3072×768 112 / 111 / 107, 1214×768×3072 113 / 112 / 109, 499×3072×768 110 / 107 / 104,
/// 128×512×512 117 / 115 / 111, 2×768×768 79 / 73 / 32 (with oneDNN's 2-thread team the gaps were larger:
/// 1214×3072×768 221 / 205 / 214). So: a wash for large m, fixed m ahead for small m, and packing always worth it.
/// A model sees few row counts (a row block per worker, the head's batch), so a primitive per `m` costs a handful
/// of creations (~1 ms each). Every primitive uses a user-mode scratchpad; up to 512 are kept.
///
/// The int8 product (`Int8Gemm`) is scaled in a pass of its own (per-row activation scale, per-column weight scale,
/// zero-point correction, bias, GELU) rather than by oneDNN's output scales, because oneDNN 2.6 cannot express a
/// per-row scale (matmul output scales take mask 0 or the last dimension only), and scales that change per call
/// (`DNNL_RUNTIME_F32_VAL`) move it off its brgemm kernels to `gemm:jit`. *Measured* (C harness, one thread, GOP/s;
/// u8·s8 → s32 / the same with run-time per-column f32 output scales, bias and GELU fused): 1214×768×768 439 / 170,
/// 1214×3072×768 380 / 329; float32 runs these at 112 (`docs/native-libraries.md` §7, §8). Run-time source zero points
/// keep brgemm, but would need per-tensor zero points; ours are per row.
final class OneDNNMatmul: @unchecked Sendable {
    struct Key: Hashable {
        var m: Int, n: Int, k: Int
        /// Element strides of A (`[m×k]`), of B (`[k×n]`, both 0 when packed) and the row stride of C.
        var aRowStride: Int, aColumnStride: Int
        var bRowStride: Int, bColumnStride: Int
        var ldc: Int
        var packedWeights: Bool
        var bias: Bool
        var alpha: Float
        var beta: Float
        var activation: GemmActivation
        var operands: Operands = .float32
    }

    /// Element types of A, B and C.
    enum Operands: Hashable {
        /// float32 everywhere.
        case float32
        /// bfloat16 A and B, float32 C (the attention products of an int8 backbone, `BFloat16Gemm`).
        case bfloat16
        /// u8 (or, `signedSource`, s8) A, s8 B, int32 C (`Int8Gemm`; s8 sources make oneDNN add 128 and subtract a
        /// compensation it stores with the packed weights).
        case int8(signedSource: Bool)

        var source: dnnl_data_type_t {
            switch self {
            case .float32: return dnnl_f32
            case .bfloat16: return dnnl_bf16
            case let .int8(signed): return signed ? dnnl_s8 : dnnl_u8
            }
        }

        var weights: dnnl_data_type_t {
            switch self {
            case .float32: return dnnl_f32
            case .bfloat16: return dnnl_bf16
            case .int8: return dnnl_s8
            }
        }

        var destination: dnnl_data_type_t {
            if case .int8 = self { return dnnl_s32 }
            return dnnl_f32
        }
    }

    let key: Key
    private let descriptor: dnnl_primitive_desc_t
    private let primitive: dnnl_primitive_t
    let sourceLayout: dnnl_memory_desc_t
    /// The layout B must have: the caller's strides, or the blocked layout packed weights are reordered into.
    let weightsLayout: dnnl_memory_desc_t
    private let biasLayout: dnnl_memory_desc_t?
    private let destinationLayout: dnnl_memory_desc_t
    private let scratchpadLayout: dnnl_memory_desc_t?

    private init(_ key: Key) {
        self.key = key
        let types = key.operands
        var src = OneDNN.matrix(rows: key.m, columns: key.k, rowStride: key.aRowStride, columnStride: key.aColumnStride, type: types.source)
        var weights = key.packedWeights
            ? OneDNN.anyLayout(rows: key.k, columns: key.n, type: types.weights)
            : OneDNN.matrix(rows: key.k, columns: key.n, rowStride: key.bRowStride, columnStride: key.bColumnStride, type: types.weights)
        var bias = OneDNN.matrix(rows: 1, columns: key.n, rowStride: key.n, columnStride: 1)
        var dst = OneDNN.matrix(rows: key.m, columns: key.n, rowStride: key.ldc, columnStride: 1, type: types.destination)
        var desc = dnnl_matmul_desc_t()
        if key.bias {
            OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, &bias, &dst), "describing a matmul")
        } else {
            OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "describing a matmul")
        }
        var attr: dnnl_primitive_attr_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        OneDNN.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
        if key.alpha != 1 {
            var scale = key.alpha
            OneDNN.check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale), "setting the output scale")
        }
        if key.beta != 0 || key.activation != .none {
            var ops: dnnl_post_ops_t?
            OneDNN.check(dnnl_post_ops_create(&ops), "creating post-ops")
            defer { dnnl_post_ops_destroy(ops) }
            // Post-ops run in order on the scaled accumulator (+ bias): sum adds beta·C first, as BLAS does.
            if key.beta != 0 { OneDNN.check(dnnl_post_ops_append_sum(ops, key.beta), "adding the sum post-op") }
            if key.activation == .gelu {
                OneDNN.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_gelu_erf, 0, 0), "adding the GELU post-op")
            }
            OneDNN.check(dnnl_primitive_attr_set_post_ops(attr, ops), "setting post-ops")
        }
        OneDNN.useOneThread()  // oneDNN plans for the team size it sees at creation
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine.handle, nil), "creating a matmul for \(key)")
        var prim: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&prim, pd), "creating a matmul primitive")
        descriptor = pd!
        primitive = prim!
        sourceLayout = src
        weightsLayout = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0).pointee
        biasLayout = key.bias ? bias : nil
        destinationLayout = dst
        var scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee
        scratchpadLayout = dnnl_memory_desc_get_size(&scratch) > 0 ? scratch : nil
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// Runs the product. `weights` is a packed memory object (`packedWeights`) or nil with `b` pointing at plain B.
    func run(a: UnsafeRawPointer, b: UnsafeRawPointer?, packed weights: dnnl_memory_t?, bias: UnsafePointer<Float>?,
             c: UnsafeMutableRawPointer) {
        precondition((weights != nil) == key.packedWeights && (bias != nil) == key.bias)
        let src = OneDNN.memory(sourceLayout, a)
        let dst = OneDNN.memory(destinationLayout, c)
        let plain = weights == nil ? OneDNN.memory(weightsLayout, b) : nil
        let biasMemory = biasLayout.map { OneDNN.memory($0, bias) }
        defer {
            dnnl_memory_destroy(src)
            dnnl_memory_destroy(dst)
            if let plain { dnnl_memory_destroy(plain) }
            if let biasMemory { dnnl_memory_destroy(biasMemory) }
        }
        var args = [
            dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights ?? plain),
            dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst),
        ]
        if let biasMemory { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: biasMemory)) }
        OneDNN.useOneThread()
        OneDNN.execute(primitive, args, scratchpad: scratchpadLayout)
    }

    // MARK: cache

    nonisolated(unsafe) private static var cache: [Key: OneDNNMatmul] = [:]
    private static let lock = NSLock()
    /// Distinct shapes kept. A model uses a few dozen (one per layer shape, row count and attention length); past
    /// this many (e.g. many audio lengths) the cache starts over rather than growing without bound.
    static let capacity = 512

    /// The primitive for `key`, created on first use. Thread-safe; creation (JIT code generation, ~1 ms) happens
    /// under the lock so two threads never build the same primitive twice.
    static func cached(_ key: Key) -> OneDNNMatmul {
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        if cache.count >= capacity { cache.removeAll() }
        let made = OneDNNMatmul(key)
        cache[key] = made
        return made
    }

    /// Number of cached primitives (for tests and `-v` reports).
    static var cachedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return cache.count
    }
}
