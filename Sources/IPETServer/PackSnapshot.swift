import IPETEngine

/// One immutable version of a named pack. A request takes the snapshots of its packs when it is admitted and runs
/// on them to the end, so replacing or deleting a pack never changes, mixes or fails a request already in flight.
public struct PackSnapshot: Sendable {
    public let name: String
    /// Increases with every pack installed on this server, so two versions of one name are always told apart.
    public let version: Int
    /// The pack bound to the shared backbone (its weights are views, never copies).
    public let task: TaskModel
}
