import IPETFormats

/// What one epoch of training gave.
public struct TrainingEpoch: Sendable, Equatable {
    /// 1-based.
    public let epoch: Int
    public let learningRate: Double
    /// Mean cross-entropy of the training batches as they were trained (dropout and augmentation on).
    public let trainLoss: Double
    /// Share of training examples the model got right while training on them (the running accuracy).
    public let trainAccuracy: Double
    public let validationLoss: Double?
    public let validationAccuracy: Double?
    /// Wall-clock time of the epoch (not recorded in packs, whose bytes must not depend on it).
    public let seconds: Double

    public init(epoch: Int, learningRate: Double, trainLoss: Double, trainAccuracy: Double, validationLoss: Double?,
                validationAccuracy: Double?, seconds: Double) {
        self.epoch = epoch
        self.learningRate = learningRate
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
    }

    /// The record as JSON; `seconds` only when asked (checkpoints keep it, packs do not).
    func json(withSeconds: Bool) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("epoch", .int(epoch)), ("lr", .double(learningRate)), ("train_loss", .double(trainLoss)),
            ("train_accuracy", .double(trainAccuracy)),
        ]
        if let validationLoss { members.append(("val_loss", .double(validationLoss))) }
        if let validationAccuracy { members.append(("val_accuracy", .double(validationAccuracy))) }
        if withSeconds { members.append(("seconds", .double(seconds))) }
        return .object(members)
    }

    init?(json: JSONValue) {
        guard let epoch = json["epoch"]?.int, let lr = json["lr"]?.double, let loss = json["train_loss"]?.double,
              let accuracy = json["train_accuracy"]?.double else { return nil }
        self.init(epoch: epoch, learningRate: lr, trainLoss: loss, trainAccuracy: accuracy, validationLoss: json["val_loss"]?.double,
                  validationAccuracy: json["val_accuracy"]?.double, seconds: json["seconds"]?.double ?? 0)
    }

    /// Whether this epoch's validation result beats `other`'s: higher accuracy, then lower loss (then the earlier
    /// epoch stays best).
    func isBetterOnValidation(than other: TrainingEpoch) -> Bool {
        guard let a = validationAccuracy, let b = other.validationAccuracy else { return false }
        if a != b { return a > b }
        return (validationLoss ?? .infinity) < (other.validationLoss ?? .infinity)
    }
}
