import Foundation
import IPETAudio
import IPETFormats
import IPETModels
import IPETTensor

/// Runs tasks over a collection of audio inputs: decoding and feature extraction on a producer thread ahead of
/// the model (bounded queue, so memory stays flat however many inputs there are), windows of equal length batched
/// across inputs, each input decoded once and each window's features computed once per distinct preprocessing.
public final class BatchRunner: @unchecked Sendable {
    public struct Options: Sendable {
        /// Window length in seconds; nil = each task's input length (AST `max_length`, a wav2vec 2.0 pack's
        /// crop, whole clips otherwise); 0 = no windowing (AST truncates like transformers).
        public var window: Double?
        /// Hop between window starts in seconds; nil = the window length.
        public var hop: Double?
        /// One record per window instead of scores averaged over windows.
        public var perWindow = false
        /// IPET's speaker-embedding protocol instead of windows: this many segments of each task's window length
        /// per input (`SegmentEmbedder`), each embedded and L2-normalised, reported together in `Answer.segments`.
        public var segments: Int?
        /// Windows per model call.
        public var batchSize = 1
        /// Inputs decoded ahead of the model.
        public var prefetch = 8
        /// Longest input decoded, in seconds (at most `AudioInput.maximumSeconds`); longer ones fail with an error.
        public var maximumSeconds = AudioInput.maximumSeconds

        public init(window: Double? = nil, hop: Double? = nil, perWindow: Bool = false, segments: Int? = nil, batchSize: Int = 1,
                    prefetch: Int = 8) {
            self.window = window
            self.hop = hop
            self.perWindow = perWindow
            self.segments = segments
            self.batchSize = batchSize
            self.prefetch = prefetch
        }
    }

    /// One task's answer for one input (or one window of it).
    public struct Answer: Sendable {
        public let task: TaskModel
        /// Seconds into the input; nil when scores are averaged over windows.
        public var start: Double?
        public var end: Double?
        public var windows: Int
        public var logits: [Float]?
        public var scores: [Float]?
        public var embedding: [Float]?
        /// With `Options.segments`: the L2-normalised embedding of every segment, in order.
        public var segments: [[Float]]?
        /// Why this input failed for this task, without the input's file name.
        public var error: EngineError?
    }

    /// Everything produced for one input, in task order.
    public struct InputResult: Sendable {
        public let item: InputItem
        public let answers: [Answer]
        public var failed: Bool { answers.contains { $0.error != nil } }
    }

    public let backbone: Backbone
    public let tasks: [TaskModel]
    public let options: Options

    /// Refuses a window longer than a task's input: the model would see only its first part, while the records
    /// would claim the whole window.
    public init(backbone: Backbone, tasks: [TaskModel], options: Options = Options()) throws {
        self.backbone = backbone
        self.tasks = tasks
        self.options = options
        if options.segments == nil, let window = options.window, window > 0 {
            let rate = Double(backbone.sampleRate)
            for task in tasks {
                if let input = task.windowSamples, Int((window * rate).rounded()) > input {
                    throw EngineError(String(format: "a %g s window is longer than the %g s %@ takes in one pass; its windows "
                                             + "would be cut to that length", window, Double(input) / rate, task.name))
                }
            }
        }
    }

    /// The most feature values one input's windows may hold at once (1 GiB of floats).
    static let maximumPreparedFloats = 1 << 28

    /// Window length in samples for a task: the option, else the task's own input length.
    func windowSamples(for task: TaskModel) -> Int? {
        let rate = Double(backbone.sampleRate)
        if let w = options.window { return w > 0 ? Int((w * rate).rounded()) : nil }
        return task.windowSamples
    }

    func hopSamples(window: Int) -> Int {
        if let h = options.hop, h > 0 { return max(1, Int((h * Double(backbone.sampleRate)).rounded())) }
        return window
    }

    /// Window starts for an input of `length` samples: 0, hop, 2·hop, … while at least half a window of audio
    /// remains (so the last window is never mostly padding); one window when the input fits.
    public static func windowStarts(length: Int, window: Int?, hop: Int) -> [Int] {
        guard let window, length > window else { return [0] }
        var starts = [0]
        var s = hop
        while s + window / 2 < length, s + window <= length + window / 2 {
            starts.append(s)
            s += hop
        }
        return starts
    }

    /// Prepared input: per feature key, the windows' sample ranges and features (or the failure).
    struct Prepared: @unchecked Sendable {
        let index: Int
        let item: InputItem
        let windows: [String: [(range: Range<Int>, features: [Float])]]
        let errors: [String: EngineError]
        let decodeError: EngineError?
        /// The input's length in samples at the model rate.
        var length = 0
    }

    /// `contents`, when given, are the file's bytes already in memory (then `item` only names the input).
    func prepare(_ item: InputItem, index: Int, contents: [UInt8]? = nil) -> Prepared {
        let samples: [Float]
        do {
            if let contents {
                samples = try AudioInput.load(bytes: contents, name: item.path, sampleRate: backbone.sampleRate,
                                              limit: options.maximumSeconds)
            } else {
                samples = try AudioInput.load(item, sampleRate: backbone.sampleRate, limit: options.maximumSeconds)
            }
        } catch {
            return Prepared(index: index, item: item, windows: [:], errors: [:], decodeError: EngineError(error, about: item.path))
        }
        var windows: [String: [(Range<Int>, [Float])]] = [:]
        var errors: [String: EngineError] = [:]
        for task in tasks where windows[task.featureKey] == nil && errors[task.featureKey] == nil {
            var audio = samples
            let w: Int?
            let starts: [Int]
            if let count = options.segments {
                let segmenter = SegmentEmbedder(task: task, count: count)
                w = segmenter.segmentSamples
                audio = WrapPadding.pad(samples, to: segmenter.segmentSamples)
                starts = segmenter.starts(length: audio.count)
            } else {
                w = windowSamples(for: task)
                if w == nil, let limit = task.maximumWholeSamples, samples.count > limit {
                    let rate = Double(backbone.sampleRate)
                    errors[task.featureKey] = EngineError(path: item.path, String(
                        format: "%.1f s of audio is longer than the %.0f s a wav2vec 2.0 model takes in one pass (memory grows "
                            + "with the square of the length)", Double(samples.count) / rate, Double(limit) / rate),
                        remedy: .scoreInWindows)
                    continue
                }
                starts = Self.windowStarts(length: samples.count, window: w, hop: w.map(hopSamples) ?? 1)
            }
            var list: [(Range<Int>, [Float])] = []
            do {
                for s in starts {
                    let end = w.map { min(audio.count, s + $0) } ?? audio.count
                    let slice = starts.count == 1 && s == 0 && end == audio.count ? audio : Array(audio[s..<end])
                    // What the model sees of the input: never past its end, and with no window at most one input
                    // length of the task (AST's max_length, a pack's crop), which is all `features` keeps.
                    let seen = min(end, samples.count, w == nil ? (task.windowSamples ?? end) : end)
                    list.append((s..<max(s, seen), try task.features(slice, source: item.path)))
                    // All of an input's window features are held at once: bound them (1 GiB) before computing more.
                    if list.count == 1, starts.count * list[0].1.count > Self.maximumPreparedFloats {
                        throw EngineError(path: item.path, String(
                            format: "%d windows would hold %.1f GB of features", starts.count,
                            Double(starts.count * list[0].1.count) * 4 / 1e9), remedy: .longerHop)
                    }
                }
                windows[task.featureKey] = list
            } catch {
                errors[task.featureKey] = EngineError(error, about: item.path)
            }
        }
        return Prepared(index: index, item: item, windows: windows, errors: errors, decodeError: nil, length: samples.count)
    }

    /// One input decoded and turned into every task's features, ready for `process`: what a front end that batches
    /// inputs from many callers (a server) prepares on its own threads, off the compute threads.
    public struct PreparedInput: Sendable {
        let prepared: Prepared
        /// The input's length in samples at the model rate (0 when it could not be decoded).
        public var samples: Int { prepared.length }
        /// Why the input could not be decoded, if it could not.
        public var decodeError: EngineError? { prepared.decodeError }
        /// Windows the model will run for this input (the most any task needs).
        public var windowCount: Int { max(1, prepared.windows.values.map(\.count).max() ?? 1) }
    }

    /// Decodes `item` and computes its features for every task, as the producer thread of `run` does.
    public func prepare(_ item: InputItem) -> PreparedInput {
        PreparedInput(prepared: prepare(item, index: 0))
    }

    /// Decodes an audio file held in memory (an upload; `name` names it in errors) and computes its features, as
    /// `prepare(_:)` does for a file.
    public func prepare(bytes: [UInt8], name: String) -> PreparedInput {
        PreparedInput(prepared: prepare(InputItem(path: name), index: 0, contents: bytes))
    }

    /// Runs every task on inputs prepared by this runner or one with the same tasks and options, batching their
    /// windows together (`Options.batchSize` per model call); results come back in input order.
    public func process(_ inputs: [PreparedInput], workspace: Workspace = Workspace()) -> [InputResult] {
        process(inputs.map(\.prepared), workspace: workspace)
    }

    /// Runs every task on every input; `emit` receives each input's results in input order, on the calling
    /// thread, as soon as they are ready.
    public func run(_ items: [InputItem], emit: (InputResult) -> Void) {
        let queue = BoundedQueue<Prepared>(capacity: max(1, options.prefetch))
        let producer = Thread { [self] in
            for (i, item) in items.enumerated() { queue.put(prepare(item, index: i)) }
            queue.close()
        }
        producer.stackSize = 8 << 20
        producer.start()
        let workspace = Workspace()
        while true {
            // Gather inputs until a batch of windows is full (or the inputs run out).
            var group: [Prepared] = []
            var windowCount = 0
            while windowCount < max(1, options.batchSize), let next = queue.take() {
                group.append(next)
                windowCount += next.windows.values.map(\.count).max() ?? 1
            }
            if group.isEmpty { break }
            for result in process(group, workspace: workspace) { emit(result) }
        }
    }

    /// Runs a group of prepared inputs: for each task, all their windows in batches of equal-length features.
    func process(_ group: [Prepared], workspace: Workspace) -> [InputResult] {
        // outputs[task][input][window], failures[task][input]
        var outputs: [[[HeadOutput?]]] = tasks.map { task in
            group.map { p in Array(repeating: nil, count: p.windows[task.featureKey]?.count ?? 0) }
        }
        var failures: [[Int: EngineError]] = tasks.map { _ in [:] }
        // Tasks that share a front end (same features, nothing before the first layer changed by a pack) get it
        // computed once per batch of windows: the fbank's patch embedding, or wav2vec 2.0's conv encoder, feature
        // projection and positional convolution. Each task then runs its own layers on a copy of it.
        var sharing: [[Int]] = []
        for (t, task) in tasks.enumerated() {
            if let g = sharing.firstIndex(where: { tasks[$0[0]].frontEndKey == task.frontEndKey }) { sharing[g].append(t) } else { sharing.append([t]) }
        }
        for members in sharing {
            let key = tasks[members[0]].featureKey
            var jobs: [(input: Int, window: Int, features: [Float])] = []
            for (i, p) in group.enumerated() {
                if let list = p.windows[key] {
                    for (w, entry) in list.enumerated() { jobs.append((i, w, entry.features)) }
                }
            }
            // Equal-length features batch together (AST always; wav2vec 2.0 when clips or windows match).
            let byLength = Dictionary(grouping: jobs.indices, by: { jobs[$0].features.count })
            for length in byLength.keys.sorted() {
                let indices = byLength[length]!
                var start = 0
                while start < indices.count {
                    let chunk = Array(indices[start..<min(indices.count, start + max(1, options.batchSize))])
                    start += chunk.count
                    let embedded = try? tasks[members[0]].embed(chunk.map { jobs[$0].features }, workspace: workspace)
                    for (n, t) in members.enumerated() {
                        if let embedded, let results = try? tasks[t].run(embedded, reuseInput: n == members.count - 1, workspace: workspace) {
                            for (j, r) in zip(chunk, results) { outputs[t][jobs[j].input][jobs[j].window] = r }
                        } else {
                            // A failing batch is retried one input at a time, so one bad input fails alone.
                            for j in chunk {
                                do {
                                    outputs[t][jobs[j].input][jobs[j].window] = try tasks[t].run([jobs[j].features], workspace: workspace)[0]
                                } catch {
                                    failures[t][jobs[j].input] = EngineError(error, about: group[jobs[j].input].item.path)
                                }
                            }
                        }
                    }
                }
            }
        }
        var answers: [[Answer]] = group.map { _ in [] }
        for (t, task) in tasks.enumerated() {
            for (i, p) in group.enumerated() {
                if let failure = p.decodeError ?? p.errors[task.featureKey] ?? failures[t][i] {
                    answers[i].append(Answer(task: task, windows: 0, error: failure))
                    continue
                }
                let windowOutputs = outputs[t][i].map { $0! }
                if windowOutputs.contains(where: { !$0.isFinite }) {
                    let what = task.embeddingOnly || options.segments != nil ? "the embedding" : "the model's output"
                    answers[i].append(Answer(task: task, windows: 0, error: EngineError.nonFinite(what, path: p.item.path)))
                    continue
                }
                let ranges = p.windows[task.featureKey]!.map(\.range)
                answers[i] += combine(task: task, outputs: windowOutputs, ranges: ranges, length: p.length)
            }
        }
        return group.enumerated().map { InputResult(item: $1.item, answers: answers[$0]) }
    }

    /// Per-window answers, or one answer with logits, scores and embeddings averaged over the windows (scores
    /// are averaged after the activation, as IPET evaluates GTZAN). An averaged answer carries `start`/`end` when
    /// the windows did not cover the whole input (`length` samples): with no window, a clip longer than the model's
    /// input; with windows, a tail shorter than half a window.
    func combine(task: TaskModel, outputs: [HeadOutput], ranges: [Range<Int>], length: Int) -> [Answer] {
        let rate = Double(backbone.sampleRate)
        if options.segments != nil {
            guard outputs.allSatisfy({ $0.embedding != nil }) else {
                return [Answer(task: task, windows: 0, error: EngineError(
                    "\(task.name) has no embedding head (a speaker pack or an x-vector checkpoint)"))]
            }
            return [Answer(task: task, windows: outputs.count, segments: outputs.map { SegmentEmbedder.normalized($0.embedding!) })]
        }
        let perWindow = outputs.enumerated().map { w, out in
            Answer(task: task, start: Double(ranges[w].lowerBound) / rate, end: Double(ranges[w].upperBound) / rate, windows: 1,
                   logits: out.logits, scores: out.logits.map(task.activation.apply), embedding: out.embedding)
        }
        if options.perWindow { return perWindow }
        func mean(_ vectors: [[Float]]) -> [Float]? {
            guard let first = vectors.first else { return nil }
            var sum = [Double](repeating: 0, count: first.count)
            for v in vectors { for (i, x) in v.enumerated() { sum[i] += Double(x) } }
            return sum.map { Float($0 / Double(vectors.count)) }
        }
        let covered = (ranges.map(\.upperBound).max() ?? length) >= length
        return [Answer(task: task, start: covered ? nil : 0, end: covered ? nil : Double(ranges.map(\.upperBound).max() ?? 0) / rate,
                       windows: outputs.count, logits: mean(perWindow.compactMap(\.logits)),
                       scores: mean(perWindow.compactMap(\.scores)), embedding: mean(perWindow.compactMap(\.embedding)))]
    }
}

/// A blocking FIFO of bounded capacity between one producer and one consumer.
final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    private let capacity: Int
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = capacity }

    func put(_ element: Element) {
        condition.lock()
        while items.count - head >= capacity { condition.wait() }
        items.append(element)
        condition.broadcast()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next element, waiting for one; nil once the queue is closed and drained.
    func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }
}
