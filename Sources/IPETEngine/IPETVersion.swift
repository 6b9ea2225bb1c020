/// The release of this package, for `ipet --version` and for library users who record what made their results.
/// Semantic versioning: the file formats (`Formats/`) and the library's public API change compatibly within a major.
public enum IPETVersion {
    public static let string = "0.4.0"
}
