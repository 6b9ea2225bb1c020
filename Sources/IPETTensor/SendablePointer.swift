/// A pointer that may cross into `@Sendable` closures. The caller guarantees that concurrent users touch
/// disjoint elements (the Swift 6 checker cannot see that).
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    @inlinable public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    @inlinable public init(_ pointer: UnsafePointer<T>) { self.pointer = UnsafeMutablePointer(mutating: pointer) }
}
