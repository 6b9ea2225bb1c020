/// How much memory a whole checkpoint may decode to, from its size on disk: 8 × its bytes + 256 MB.
///
/// Each tensor is checked against its own storage, but a file can still ask for far more memory than it holds:
/// tensors sharing one storage (aliases), HDF5 links, or compressed datasets (deflate reaches about 1000:1, so a
/// 3 MB file can declare 3 GB of zeros). Real checkpoints decode to at most about 2× their size (half precision
/// widened to float32); 8× plus 256 MB leaves room for tied weights and small files, and stops the rest before
/// anything is decoded. Used by the PyTorch and safetensors importer (`CheckpointImporter`) and, before libhdf5
/// inflates any data, by the HDF5 readers.
public enum DecodeBudget {
    public static let slackBytes: UInt64 = 256_000_000
    public static let factor: UInt64 = 8

    /// The most bytes of float32 values that `fileBytes` bytes on disk may decode to.
    public static func limit(fileBytes: UInt64) -> UInt64 {
        let (scaled, o1) = fileBytes.multipliedReportingOverflow(by: factor)
        let (sum, o2) = scaled.addingReportingOverflow(slackBytes)
        return o1 || o2 ? .max : sum
    }
}
