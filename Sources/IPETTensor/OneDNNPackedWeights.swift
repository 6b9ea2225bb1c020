import CDNNL
import Foundation

/// A `Linear` weight matrix (`[out, in]`, PyTorch layout: float32, or int8 `QuantizedWeight` values) reordered once into
/// the blocked layout a oneDNN matmul asked for, so no product re-packs it (oneDNN's brgemm kernels otherwise copy B
/// into blocks on every call; for s8 activations the reorder also computes the per-column compensation oneDNN needs).
///
/// Weights are immutable and shared by every forward pass, so one packed copy per (weight, layout) serves all
/// threads (training's parameters are the exception and call `Gemm.weightsChanged` after each update). The cache is
/// keyed by the weight's storage object, offset and shape; it holds the storage weakly, so a released model's packed
/// copies are dropped (at the next insertion) and a new storage at a recycled address is never mistaken for the old
/// one. The copy costs the weight's size again in memory (≈ 340 MB for a float32 base model, ≈ 85 MB for an int8 one).
final class OneDNNPackedWeights: @unchecked Sendable {
    let memory: dnnl_memory_t
    let layout: dnnl_memory_desc_t
    private weak var storage: AnyObject?
    private let offset: Int

    private init(storage: AnyObject, offset: Int, data: UnsafeRawPointer, type: dnnl_data_type_t, outFeatures: Int,
                 inFeatures: Int, layout: dnnl_memory_desc_t) {
        self.layout = layout
        self.storage = storage
        self.offset = offset
        // The [out, in] row-major weight is Bᵀ: as the k×n matrix B its element (i, o) sits at o·in + i.
        var plain = OneDNN.matrix(rows: inFeatures, columns: outFeatures, rowStride: 1, columnStride: inFeatures, type: type)
        var packed = layout
        memory = OneDNN.memory(layout, ipet_dnnl_memory_allocate())
        let source = OneDNN.memory(plain, data)
        defer { dnnl_memory_destroy(source) }
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_reorder_primitive_desc_create(&pd, &plain, OneDNN.engine.handle, &packed, OneDNN.engine.handle, nil),
                     "planning the weight reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorder: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&reorder, pd), "creating the weight reorder")
        defer { dnnl_primitive_destroy(reorder) }
        OneDNN.useOneThread()
        OneDNN.execute(reorder!, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: memory)],
                       scratchpad: nil)
    }

    deinit { dnnl_memory_destroy(memory) }

    private func matches(_ storage: AnyObject, offset: Int, layout other: dnnl_memory_desc_t) -> Bool {
        var a = layout, b = other
        return self.storage === storage && self.offset == offset && dnnl_memory_desc_equal(&a, &b) != 0
    }

    private var isAlive: Bool { storage != nil }

    // MARK: cache

    private struct Key: Hashable {
        let storage: ObjectIdentifier
        let offset: Int
        let outFeatures: Int
        let inFeatures: Int
    }

    nonisolated(unsafe) private static var cache: [Key: [OneDNNPackedWeights]] = [:]
    private static let lock = NSLock()

    /// The packed copy of the float32 `weight` in `layout`, made on first use. Thread-safe; packing happens under
    /// the lock (a 768×3072 matrix takes about a millisecond, once).
    static func packed(_ weight: Tensor, outFeatures: Int, inFeatures: Int, layout: dnnl_memory_desc_t) -> OneDNNPackedWeights {
        packed(storage: weight.storage, offset: weight.offset, data: weight.data, type: dnnl_f32, outFeatures: outFeatures,
               inFeatures: inFeatures, layout: layout)
    }

    /// The packed copy of an int8 weight's values in `layout` (s8; its scales stay with `QuantizedWeight`).
    static func packed(_ weight: QuantizedWeight, layout: dnnl_memory_desc_t) -> OneDNNPackedWeights {
        packed(storage: weight.values, offset: weight.offset, data: weight.data, type: dnnl_s8, outFeatures: weight.outFeatures,
               inFeatures: weight.inFeatures, layout: layout)
    }

    private static func packed(storage: AnyObject, offset: Int, data: UnsafeRawPointer, type: dnnl_data_type_t, outFeatures: Int,
                               inFeatures: Int, layout: dnnl_memory_desc_t) -> OneDNNPackedWeights {
        let key = Key(storage: ObjectIdentifier(storage), offset: offset, outFeatures: outFeatures, inFeatures: inFeatures)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key]?.first(where: { $0.matches(storage, offset: offset, layout: layout) }) { return hit }
        // Drop copies whose weights are gone (their storage may have been recycled for this very key).
        for (k, entries) in cache {
            let alive = entries.filter(\.isAlive)
            cache[k] = alive.isEmpty ? nil : alive
        }
        let made = OneDNNPackedWeights(storage: storage, offset: offset, data: data, type: type, outFeatures: outFeatures,
                                       inFeatures: inFeatures, layout: layout)
        cache[key, default: []].append(made)
        return made
    }

    /// Drops every packed copy made from `storage` (its values changed; see `Gemm.weightsChanged`).
    static func forget(_ storage: TensorStorage) {
        lock.lock()
        defer { lock.unlock() }
        for (k, entries) in cache where k.storage == ObjectIdentifier(storage) {
            let others = entries.filter { $0.storage !== storage }
            cache[k] = others.isEmpty ? nil : others
        }
    }

    /// Number of packed copies held (for tests).
    static var cachedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return cache.values.reduce(0) { $0 + $1.count }
    }
}
