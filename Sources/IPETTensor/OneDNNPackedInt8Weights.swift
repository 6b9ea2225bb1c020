import CDNNL
import Foundation

/// An int8 `Linear` weight (`QuantizedWeight`, `[out, in]`) reordered once into the blocked layout an int8 matmul
/// asked for — for s8 activations with the per-column compensation oneDNN computes during the reorder — so no
/// product re-packs it. Cached like `OneDNNPackedWeights`: keyed by the values' storage object, offset and shape,
/// holding the storage weakly (a released model's copies go at the next insertion; a recycled address is never
/// mistaken for an old weight). Costs the int8 weight's size again (≈ 85 MB for a base model).
final class OneDNNPackedInt8Weights: @unchecked Sendable {
    let memory: dnnl_memory_t
    let layout: dnnl_memory_desc_t
    private weak var storage: Int8Storage?
    private let offset: Int

    private init(_ weight: QuantizedWeight, layout: dnnl_memory_desc_t) {
        self.layout = layout
        storage = weight.values
        offset = weight.offset
        // The [out, in] row-major weight is Bᵀ: as the k×n matrix B its element (i, o) sits at o·in + i.
        var plain = OneDNN.matrix(rows: weight.inFeatures, columns: weight.outFeatures, rowStride: 1,
                                  columnStride: weight.inFeatures, type: dnnl_s8)
        var packed = layout
        memory = OneDNN.memory(layout, ipet_dnnl_memory_allocate())
        let source = OneDNN.memory(plain, weight.data)
        defer { dnnl_memory_destroy(source) }
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_reorder_primitive_desc_create(&pd, &plain, OneDNN.engine.handle, &packed, OneDNN.engine.handle, nil),
                     "planning the int8 weight reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorder: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&reorder, pd), "creating the int8 weight reorder")
        defer { dnnl_primitive_destroy(reorder) }
        OneDNN.useOneThread()
        OneDNN.execute(reorder!, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: memory)],
                       scratchpad: nil)
    }

    deinit { dnnl_memory_destroy(memory) }

    private func matches(_ weight: QuantizedWeight, layout other: dnnl_memory_desc_t) -> Bool {
        var a = layout, b = other
        return storage === weight.values && offset == weight.offset && dnnl_memory_desc_equal(&a, &b) != 0
    }

    private var isAlive: Bool { storage != nil }

    private struct Key: Hashable {
        let storage: ObjectIdentifier
        let offset: Int
        let outFeatures: Int
        let inFeatures: Int
    }

    nonisolated(unsafe) private static var cache: [Key: [OneDNNPackedInt8Weights]] = [:]
    private static let lock = NSLock()

    /// The packed copy of `weight` in `layout`, made on first use. Thread-safe.
    static func packed(_ weight: QuantizedWeight, layout: dnnl_memory_desc_t) -> OneDNNPackedInt8Weights {
        let key = Key(storage: ObjectIdentifier(weight.values), offset: weight.offset, outFeatures: weight.outFeatures,
                      inFeatures: weight.inFeatures)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key]?.first(where: { $0.matches(weight, layout: layout) }) { return hit }
        for (k, entries) in cache {
            let alive = entries.filter(\.isAlive)
            cache[k] = alive.isEmpty ? nil : alive
        }
        let made = OneDNNPackedInt8Weights(weight, layout: layout)
        cache[key, default: []].append(made)
        return made
    }

    static var cachedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return cache.values.reduce(0) { $0 + $1.count }
    }
}
