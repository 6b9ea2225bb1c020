

/// A tensor rebuilt by `torch._utils._rebuild_tensor_v2` (or `_v3`, `_rebuild_tensor`, optionally wrapped in a
/// parameter): a view `(offset, shape, strides)`, in elements, of a storage.
public struct TorchTensorRef: Sendable, Equatable {
    public let storage: TorchStorageRef
    public let dtype: DType
    public let storageOffset: Int
    public let shape: [Int]
    public let strides: [Int]
    public var requiresGrad: Bool
    /// Rebuilt through `_rebuild_parameter` (an `nn.Parameter`).
    public var isParameter: Bool

    public init(storage: TorchStorageRef, dtype: DType, storageOffset: Int, shape: [Int], strides: [Int],
                requiresGrad: Bool, isParameter: Bool) {
        self.storage = storage
        self.dtype = dtype
        self.storageOffset = storageOffset
        self.shape = shape
        self.strides = strides
        self.requiresGrad = requiresGrad
        self.isParameter = isParameter
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// Row-major (C-contiguous): strides of dimensions longer than 1 are the products of the later sizes, as
    /// `torch.Tensor.is_contiguous` defines it. Empty tensors are contiguous.
    public var isContiguous: Bool {
        if shape.contains(0) { return true }
        var expected = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }
}
