import IPETFormats

/// A dense row-major Float32 tensor.
///
/// Weights loaded from safetensors F32 data are zero-copy views of the mapped file (read-only); everything
/// else owns its memory. The value is cheap to copy (it shares storage).
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let storage: TensorStorage
    /// Element offset of this tensor inside `storage` (views of a slice share the parent's storage).
    public let offset: Int

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var isMapped: Bool { storage.isMapped }

    /// Read-only pointer to the first element.
    public var data: UnsafePointer<Float> { UnsafePointer(storage.pointer + offset) }

    /// Writable pointer; only owned tensors may be written.
    public var mutableData: UnsafeMutablePointer<Float> {
        precondition(!storage.isMapped, "mapped tensors are read-only")
        return storage.pointer + offset
    }

    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: data, count: count) }

    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 })
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        offset = 0
    }

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { mutableData.update(from: base, count: values.count) }
        }
    }

    public init(shape: [Int], storage: TensorStorage, offset: Int = 0) {
        precondition(offset + shape.reduce(1, *) <= storage.count)
        self.shape = shape
        self.storage = storage
        self.offset = offset
    }

    /// The same elements under another shape.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, storage: storage, offset: offset)
    }

    /// Rows `[start, start+count)` of the first axis, sharing storage.
    public func rows(_ start: Int, count n: Int) -> Tensor {
        precondition(rank >= 1 && start >= 0 && start + n <= shape[0])
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [n] + shape.dropFirst(), storage: storage, offset: offset + start * inner)
    }

    /// An owned, writable copy.
    public func copy() -> Tensor {
        let t = Tensor(zeros: shape)
        t.mutableData.update(from: data, count: count)
        return t
    }

    public var array: [Float] { Array(buffer) }

    public var description: String { "Tensor\(shape)\(isMapped ? " (mapped)" : "")" }
}

extension Tensor {
    /// Loads a floating-point tensor from a safetensors file. Little-endian F32 data aligned to 4 bytes is used
    /// in place (zero-copy); F16, BF16, F64 and unaligned F32 are converted into owned memory.
    public static func load(_ name: String, from file: SafeTensorsFile) throws(SafeTensorsError) -> Tensor {
        guard let info = file.info(name) else {
            throw SafeTensorsError(path: file.path, tensor: name, problem: .missingTensor)
        }
        return try load(info, from: file)
    }

    public static func load(_ info: SafeTensorInfo, from file: SafeTensorsFile) throws(SafeTensorsError) -> Tensor {
        guard info.dtype.isFloatConvertible else {
            throw SafeTensorsError(path: file.path, tensor: info.name, problem: .unsupportedDType(info.dtype.rawValue))
        }
        let raw = file.rawBytes(info)
        if info.dtype == .f32, info.elementCount > 0, let base = raw.baseAddress,
            Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0
        {
            let storage = TensorStorage(
                mapped: base.assumingMemoryBound(to: Float.self), count: info.elementCount, owner: file.storageOwner)
            return Tensor(shape: info.shape, storage: storage)
        }
        let t = Tensor(zeros: info.shape)
        if info.elementCount > 0 {
            convertToFloat(raw, dtype: info.dtype, into: UnsafeMutableBufferPointer(start: t.mutableData, count: info.elementCount))
        }
        return t
    }
}
