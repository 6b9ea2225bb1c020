import Foundation
import IPETFormats
import IPETTensor

/// One tensor of a checkpoint file, whatever its format: its name in the file, its shape, and how to load it.
public struct SourceTensor {
    public let name: String
    public let shape: [Int]
    /// The element type as stored.
    public let dtype: DType
    public let load: () throws -> Tensor
    /// The raw values of an I8 tensor (mapped where the format allows), for int8 weights (`Formats/int8.md`); nil for
    /// other dtypes and formats that hold no int8 weights.
    public let loadInt8: (() throws -> Int8Storage)?

    public var byteCount: Int { shape.reduce(1, *) * (dtype.byteWidth ?? 4) }

    public init(name: String, shape: [Int], dtype: DType, load: @escaping () throws -> Tensor,
                loadInt8: (() throws -> Int8Storage)? = nil) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.load = load
        self.loadInt8 = loadInt8
    }
}
