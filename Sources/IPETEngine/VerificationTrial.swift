import Foundation

/// One line of a trial list: does `test` come from the speaker of `enrol`?
public struct VerificationTrial: Sendable, Equatable {
    /// Label 1 in the file: same speaker.
    public let isTarget: Bool
    public let enrol: String
    public let test: String

    public init(isTarget: Bool, enrol: String, test: String) {
        self.isTarget = isTarget
        self.enrol = enrol
        self.test = test
    }
}
