import CDNNL

/// Process-wide oneDNN state and the few calls every oneDNN primitive needs (`docs/native-libraries.md` §7).
///
/// oneDNN picks its kernels from the CPU at run time (CPUID: AVX2, AVX-512, VNNI, BF16, AMX), so one release build
/// runs the widest code the host has without tuning flags; `isa` names the level it chose. All oneDNN types stay
/// inside IPETTensor: callers see `Gemm`, pointers and `Tensor`s only.
enum OneDNN {
    /// The CPU engine (one per process; engines are thread-safe and cheap to share).
    static let engine = EngineHandle()

    /// Wraps the engine handle so a static may hold it (Swift 6 rejects non-Sendable globals). Never destroyed.
    final class EngineHandle: @unchecked Sendable {
        let handle: dnnl_engine_t
        init() {
            var engine: dnnl_engine_t?
            OneDNN.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
            handle = engine!
        }
    }

    /// Stops with a message naming the call. oneDNN fails only on invalid descriptors (our bug) or out of memory.
    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success { fatalError("oneDNN: \(what()) failed (dnnl_status_t \(status.rawValue))") }
    }

    /// Keeps oneDNN on the calling thread: an OpenMP team of one. OpenMP's thread count (nthreads-var) is a
    /// per-thread setting whose default is one per core, so every thread that calls oneDNN sets it (a thread-local
    /// read when already set). Parallelism is ours (`OneDNNGemm`, §7).
    @inline(__always)
    static func useOneThread() {
        if omp_get_max_threads() != 1 { omp_set_num_threads(1) }
    }

    /// A 2-D memory descriptor (float32 unless `type` says otherwise) with explicit element strides
    /// (`[rowStride, columnStride]`).
    static func matrix(rows: Int, columns: Int, rowStride: Int, columnStride: Int, type: dnnl_data_type_t = dnnl_f32)
        -> dnnl_memory_desc_t
    {
        var md = dnnl_memory_desc_t()
        let dims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(columns)]
        let strides: [dnnl_dim_t] = [dnnl_dim_t(rowStride), dnnl_dim_t(columnStride)]
        check(dnnl_memory_desc_init_by_strides(&md, 2, dims, type, strides), "describing a \(rows)×\(columns) matrix")
        return md
    }

    /// A 2-D descriptor whose layout the primitive chooses (`format_tag_any`): how weights get packed.
    static func anyLayout(rows: Int, columns: Int, type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(columns)]
        check(dnnl_memory_desc_init_by_tag(&md, 2, dims, type, dnnl_format_tag_any), "describing packed weights")
        return md
    }

    /// A memory object over caller-owned data (no copy). Destroy it after the call.
    static func memory(_ md: dnnl_memory_desc_t, _ pointer: UnsafeRawPointer?) -> dnnl_memory_t {
        var md = md
        var memory: dnnl_memory_t?
        check(dnnl_memory_create(&memory, &md, engine.handle, UnsafeMutableRawPointer(mutating: pointer)), "wrapping memory")
        return memory!
    }

    /// Runs `primitive` on a fresh in-order stream (creating a CPU stream costs well under a microsecond; a shared
    /// stream would need a lock) and waits for it. `scratchpadBytes` > 0 allocates the primitive's scratchpad for this
    /// call: primitives are created in user-scratchpad mode so concurrent calls never share one.
    static func execute(_ primitive: dnnl_primitive_t, _ args: [dnnl_exec_arg_t], scratchpad: dnnl_memory_desc_t?) {
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine.handle, dnnl_stream_default_flags.rawValue), "creating a stream")
        defer { dnnl_stream_destroy(stream) }
        var args = args
        var scratch: (memory: dnnl_memory_t, buffer: UnsafeMutableRawPointer)?
        if let scratchpad {
            var md = scratchpad
            let bytes = dnnl_memory_desc_get_size(&md)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            let memory = self.memory(scratchpad, buffer)
            scratch = (memory, buffer)
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memory))
        }
        defer {
            if let scratch {
                dnnl_memory_destroy(scratch.memory)
                scratch.buffer.deallocate()
            }
        }
        check(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "executing a primitive")
        check(dnnl_stream_wait(stream), "waiting for a stream")
    }

    /// The instruction set oneDNN dispatches to on this CPU, e.g. "avx512_core_bf16" (`dnnl_get_effective_cpu_isa`).
    static var isa: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: return "sse41"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx512_mic: return "avx512_mic"
        case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case let other: return "isa 0x\(String(other.rawValue, radix: 16))"
        }
    }

    /// Whether the ISA oneDNN runs has VNNI (`vpdpbusd`: four u8·s8 products summed into int32 without an
    /// intermediate 16-bit sum). Without it oneDNN's int8 kernels use `vpmaddubsw`, whose pairwise 16-bit sums saturate
    /// for u8 activations above 127 against large weights (oneDNN's "int8 computations" notes), so `Int8Gemm`
    /// quantises activations to 7 bits there.
    static let hasVNNI: Bool = {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx2_vnni, dnnl_cpu_isa_avx512_core_vnni, dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx:
            return true
        default:
            return false
        }
    }()

    /// Whether the ISA oneDNN runs has bfloat16 dot products (`vdpbf16ps` of AVX512_BF16, or AMX), so bf16 matmuls
    /// run at twice the float32 rate instead of being emulated.
    static let hasBF16: Bool = {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx: return true
        default: return false
        }
    }()

    /// "major.minor.patch" of the loaded library.
    static var version: String {
        guard let v = dnnl_version()?.pointee else { return "unknown" }
        return "\(v.major).\(v.minor).\(v.patch)"
    }
}
