import CDNNL
import Foundation

/// A `Linear` weight matrix (`[out, in]`, PyTorch layout) reordered once into the blocked layout a oneDNN matmul
/// asked for, so no product re-packs it (oneDNN's brgemm kernels otherwise copy B into blocks on every call).
///
/// Weights are immutable and shared by every forward pass, so one packed copy per (weight, layout) serves all
/// threads (training's parameters are the exception and call `Gemm.weightsChanged` after each update). The cache is keyed by the weight's storage object, offset and shape; it holds the storage weakly, so a
/// released model's packed copies are dropped (at the next insertion) and a new storage at a recycled address is
/// never mistaken for the old one. The copy costs the weight's size again in memory (≈ 340 MB for a base model).
final class OneDNNPackedWeights: @unchecked Sendable {
    let memory: dnnl_memory_t
    let layout: dnnl_memory_desc_t
    private weak var storage: TensorStorage?
    private let offset: Int

    private init(_ weight: Tensor, outFeatures: Int, inFeatures: Int, layout: dnnl_memory_desc_t) {
        self.layout = layout
        storage = weight.storage
        offset = weight.offset
        // The [out, in] row-major weight is Bᵀ: as the k×n matrix B its element (i, o) sits at o·in + i.
        var plain = OneDNN.matrix(rows: inFeatures, columns: outFeatures, rowStride: 1, columnStride: inFeatures)
        var packed = layout
        memory = OneDNN.memory(layout, ipet_dnnl_memory_allocate())
        let source = OneDNN.memory(plain, weight.data)
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

    private func matches(_ weight: Tensor, layout other: dnnl_memory_desc_t) -> Bool {
        var a = layout, b = other
        return storage === weight.storage && offset == weight.offset && dnnl_memory_desc_equal(&a, &b) != 0
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

    /// The packed copy of `weight` in `layout`, made on first use. Thread-safe; packing happens under the lock
    /// (a 768×3072 matrix takes about a millisecond, once).
    static func packed(_ weight: Tensor, outFeatures: Int, inFeatures: Int, layout: dnnl_memory_desc_t) -> OneDNNPackedWeights {
        let key = Key(storage: ObjectIdentifier(weight.storage), offset: weight.offset, outFeatures: outFeatures,
                      inFeatures: inFeatures)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key]?.first(where: { $0.matches(weight, layout: layout) }) { return hit }
        // Drop copies whose weights are gone (their storage may have been recycled for this very key).
        for (k, entries) in cache {
            let alive = entries.filter(\.isAlive)
            cache[k] = alive.isEmpty ? nil : alive
        }
        let made = OneDNNPackedWeights(weight, outFeatures: outFeatures, inFeatures: inFeatures, layout: layout)
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
