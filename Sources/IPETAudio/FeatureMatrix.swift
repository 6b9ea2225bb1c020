/// A row-major Float32 matrix of per-frame features: `rows` frames × `columns` features (e.g. mel bins).
///
/// The layout is the same as the PyTorch/numpy `[frames, mel]` arrays the references store, so comparing or
/// handing the values to a model is a flat copy.
public struct FeatureMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// `rows · columns` values, row after row.
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(rows >= 0 && columns >= 0 && values.count == rows * columns,
                     "FeatureMatrix: \(values.count) values for \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(rows: Int, columns: Int, repeating value: Float) {
        self.init(rows: rows, columns: columns, values: [Float](repeating: value, count: rows * columns))
    }

    public var shape: [Int] { [rows, columns] }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[(index * columns)..<((index + 1) * columns)]
    }
}
