/// Carries a pointer (or other non-Sendable value) into `DispatchQueue.concurrentPerform`'s `@Sendable` closure.
///
/// Only used where every worker touches a disjoint part of the memory and the owner outlives the parallel loop
/// (`docs/native-libraries.md` §3, "Swift 6 strict concurrency with C pointers").
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
