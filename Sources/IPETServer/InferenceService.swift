import Foundation
import Hummingbird
import IPETEngine
import IPETFormats
import IPETModels
import Logging
import ServiceLifecycle

/// Everything `ipet serve` does behind its routes: the one backbone and the pack registry, admission and queue
/// limits, decoding off the compute threads, dynamic batching, timeouts, metrics. Routes only parse a request, call
/// one method here and encode its answer, so the rules live in one place, the same engine runs as in
/// `ipet predict`, and the service can be driven without HTTP.
///
/// As a `Service` it loads the backbone when the service group starts (the server is then already listening, and
/// `readyz` says 503 until it is loaded) and, on graceful shutdown, computes everything admitted before it ends.
public final class InferenceService: Service, @unchecked Sendable {
    /// What a loader gives: the backbone, and the packs to start with by name.
    public typealias Loaded = (backbone: Backbone, packs: [(name: String, task: TaskModel)])

    /// The state once the backbone is loaded.
    struct Ready: Sendable {
        let registry: PackRegistry
        /// The checkpoint's own classifier, when it has one (classify without a pack).
        let backboneTask: TaskModel?
    }

    public let configuration: ServerConfiguration
    public let metrics = ServerMetrics()
    private let loader: @Sendable () throws -> Loaded
    private let onReady: @Sendable () -> Void
    private let lock = NSLock()
    private var ready: Ready?
    private var embeddingTasks: [String: TaskModel] = [:]
    private let gate: AdmissionGate
    private let batcher: DynamicBatcher
    /// Decode uploads and read packs (`ServerConfiguration.decodeThreads`).
    private let decoders: WorkerThreads
    private let deadlines = DeadlineWatch()
    private static let logger = Logger(label: "ipet.serve")

    /// `loader` runs on a thread of its own when the service starts; `onReady` is called once it has finished.
    public init(configuration: ServerConfiguration, loader: @escaping @Sendable () throws -> Loaded,
                onReady: @escaping @Sendable () -> Void = {}) {
        self.configuration = configuration
        self.loader = loader
        self.onReady = onReady
        let metrics = self.metrics
        let gate = AdmissionGate(limit: configuration.maxQueue) { metrics.setQueueDepth($0) }
        self.gate = gate
        batcher = DynamicBatcher(maxBatch: configuration.maxBatch, wait: configuration.batchWait, metrics: metrics,
                                 admitted: { gate.waitingCount })
        decoders = WorkerThreads(count: configuration.decodeThreads, name: "ipet-decode")
    }

    /// Requests admitted and answered so far (what a graceful shutdown must keep equal).
    public var requestCounts: (admitted: Int, answered: Int) { gate.counts }

    public var isReady: Bool { currentReady != nil }

    private var currentReady: Ready? {
        lock.lock()
        defer { lock.unlock() }
        return ready
    }

    public func run() async throws {
        let loaded: Loaded = try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [loader] in continuation.resume(with: Result { try loader() }) }
            thread.stackSize = 8 << 20
            thread.start()
        }
        // Computed once now, so that listing packs or checking an upload never hashes the weights inside a request.
        _ = loaded.backbone.fingerprint
        let registry = PackRegistry(backbone: loaded.backbone)
        for (name, task) in loaded.packs { _ = await registry.install(task, as: name) }
        metrics.setLoadedPacks(loaded.packs.count)
        let backboneTask = loaded.backbone.labels.isEmpty ? nil : try? TaskModel(backbone: loaded.backbone)
        decoders.start()
        deadlines.start()
        batcher.start()
        setReady(Ready(registry: registry, backboneTask: backboneTask))
        onReady()
        // The HTTP server stops first (the service group stops services in reverse order) and waits for its
        // in-flight requests, which wait for this batcher; then everything left is computed before returning.
        try? await gracefulShutdown()
        await batcher.drainAndStop()
        decoders.stop()
        deadlines.stop()
    }

    private func setReady(_ value: Ready) {
        lock.lock()
        ready = value
        lock.unlock()
    }

    private func requireReady() throws -> Ready {
        guard let ready = currentReady else {
            throw ServerError(.serviceUnavailable, "the backbone is still loading", retryAfter: 1)
        }
        return ready
    }

    // MARK: - Inference

    /// Classifies one audio file's bytes with the named packs (or the backbone's own head), as `ipet predict` would.
    func classify(audio: [UInt8], query: ClassifyQuery) async throws -> JSONValue {
        let ready = try requireReady()
        let snapshots = try await ready.registry.snapshots(query.packs)
        let tasks: [TaskModel]
        if snapshots.isEmpty {
            guard let task = ready.backboneTask else {
                throw ServerError(.badRequest, "no pack named and the backbone has no classification head of its own: add pack=NAME")
            }
            tasks = [task]
        } else {
            tasks = snapshots.map(\.task)
        }
        for snapshot in snapshots { metrics.recordPackRequest(snapshot.name) }
        let runner: BatchRunner
        do {
            runner = try BatchRunner(backbone: ready.registry.backbone, tasks: tasks, options: query.options(maxBatch: configuration.maxBatch, maxAudioSeconds: configuration.maxAudioSeconds))
        } catch {
            throw ServerError(.badRequest, Self.describe(error))
        }
        let key = tasks.map { "\(ObjectIdentifier($0).hashValue)" }.joined(separator: ",")
            + " \(String(describing: query.window)) \(String(describing: query.hop)) \(query.perWindow)"
        let (result, samples) = try await compute(audio, runner: runner, key: key)
        var results: [JSONValue] = []
        for (t, task) in tasks.enumerated() {
            let name = snapshots.isEmpty ? "backbone" : snapshots[t].name
            let answers = result.answers.filter { $0.task === task }
            if let error = answers.compactMap(\.error).first {
                throw ServerError(.badRequest, "\(name): \(error.detail)\(Self.hint(for: error))")
            }
            guard answers.allSatisfy({ $0.scores != nil }) else {
                throw ServerError(.badRequest, "\(name) gives embeddings, not class scores: use /v1/embed")
            }
            var fields: [(key: String, value: JSONValue)] = [("pack", .string(name))]
            if !snapshots.isEmpty { fields.append(("version", .int(snapshots[t].version))) }
            if query.perWindow {
                fields.append(("per_window", .array(answers.map { answer in
                    var w: [(key: String, value: JSONValue)] = [("start", .double(answer.start ?? 0)), ("end", .double(answer.end ?? 0))]
                    w += Self.scoreFields(answer, labels: task.labels, topK: query.topK, logits: query.logits)
                    return .object(w)
                })))
            } else {
                let answer = answers[0]
                fields.append(("windows", .int(answer.windows)))
                if let s = answer.start, let e = answer.end { fields += [("start", .double(s)), ("end", .double(e))] }
                fields += Self.scoreFields(answer, labels: task.labels, topK: query.topK, logits: query.logits)
            }
            results.append(.object(fields))
        }
        return .object([("duration_s", .double(Double(samples) / Double(ready.registry.backbone.sampleRate))), ("results", .array(results))])
    }

    private static func scoreFields(_ answer: BatchRunner.Answer, labels: [String], topK: Int, logits: Bool) -> [(key: String, value: JSONValue)] {
        let scores = answer.scores ?? []
        let top = ScoreRanking.order(scores).prefix(topK).map { i -> JSONValue in
            .object([("label", .string(labels.indices.contains(i) ? labels[i] : "LABEL_\(i)")), ("score", .float(scores[i]))])
        }
        var fields: [(key: String, value: JSONValue)] = [("top", .array(top))]
        if logits, let l = answer.logits { fields.append(("logits", .array(l.map(JSONValue.float)))) }
        return fields
    }

    /// One embedding of one audio file's bytes, as `ipet embed` writes it: a speaker pack's segments, or the
    /// backbone's own embedding of the whole clip.
    func embed(audio: [UInt8], query: EmbedQuery) async throws -> JSONValue {
        let ready = try requireReady()
        let backbone = ready.registry.backbone
        let task: TaskModel
        var options = BatchRunner.Options(window: 0, batchSize: configuration.maxBatch)
        options.maximumSeconds = configuration.maxAudioSeconds
        if let name = query.pack {
            let snapshot = try await ready.registry.snapshots([name])[0]
            guard snapshot.task.pack?.taskHead.givesEmbeddings == true else {
                throw ServerError(.badRequest, "pack \(name) has no embedding head (a speaker head): use /v1/classify")
            }
            metrics.recordPackRequest(name)
            task = snapshot.task
            // IPET's segment protocol unless segments=0 asks for one embedding of the whole clip.
            if query.segments != 0 { options.segments = SegmentEmbedder(task: task, count: query.segments).count }
        } else {
            task = try embeddingTask(query.kind, backbone: backbone)
        }
        let runner: BatchRunner
        do { runner = try BatchRunner(backbone: backbone, tasks: [task], options: options) } catch {
            throw ServerError(.badRequest, Self.describe(error))
        }
        let key = "\(ObjectIdentifier(task).hashValue) embed \(String(describing: options.segments))"
        let (result, samples) = try await compute(audio, runner: runner, key: key)
        let answer = result.answers[0]
        if let error = answer.error { throw ServerError(.badRequest, error.detail + Self.hint(for: error)) }
        let shape: [Int], values: [Float]
        if let segments = answer.segments {
            shape = [segments.count, segments.first?.count ?? 0]
            values = segments.flatMap { $0 }
        } else if let e = answer.embedding {
            shape = [e.count]
            values = e
        } else {
            throw ServerError(.badRequest, "this model gives no embedding")
        }
        return .object([("duration_s", .double(Double(samples) / Double(backbone.sampleRate))),
                        ("shape", .array(shape.map(JSONValue.int))), ("embedding", .array(values.map(JSONValue.float)))])
    }

    /// The backbone's embedding tasks are made once per kind, so that their requests batch together.
    private func embeddingTask(_ kind: BackboneEmbedding, backbone: Backbone) throws -> TaskModel {
        lock.lock()
        defer { lock.unlock() }
        if let task = embeddingTasks["\(kind)"] { return task }
        do {
            let task = try TaskModel(backbone: backbone, embedding: kind)
            embeddingTasks["\(kind)"] = task
            return task
        } catch {
            throw ServerError(.badRequest, Self.describe(error))
        }
    }

    /// Admits a request, hands its upload to the decode threads, which decode it from memory, compute its features
    /// and queue it for the batcher, and waits for its answer, within the request timeout (`DeadlineWatch`). The
    /// only hand-offs are to the decode thread, to the compute thread, and back.
    private func compute(_ audio: [UInt8], runner: BatchRunner, key: String) async throws -> (BatchRunner.InputResult, Int) {
        guard !audio.isEmpty else { throw ServerError(.badRequest, "the request body is empty: send the audio file's bytes") }
        guard gate.enter() else {
            throw ServerError(.serviceUnavailable, "the queue is full (\(configuration.maxQueue) requests waiting); retry later", retryAfter: 1)
        }
        let job = InferenceJob(runner: runner, key: key, audio: audio, place: gate, timeout: configuration.requestTimeout)
        defer {
            job.releasePlace()
            gate.answered()
        }
        deadlines.watch(job)
        decoders.submit { [batcher] in
            // A request that timed out (or whose client left) while it queued is not decoded.
            guard !job.expireIfLate() else { return }
            let prepared = runner.prepare(bytes: job.audio, name: "upload")
            job.audio = []
            if let error = prepared.decodeError {
                job.finish(.failure(ServerError(.badRequest, "the audio cannot be decoded: \(error.detail)")))
            } else if prepared.samples == 0 {
                job.finish(.failure(ServerError(.badRequest, "the audio holds no samples")))
            } else if !job.isFinished {  // timed out or cancelled while it was decoded: never queued
                job.prepared = prepared
                batcher.submit(job)
            }
        }
        do {
            let result = try await job.result()
            return (result, job.prepared.samples)
        } catch {
            batcher.withdraw(job)
            throw error
        }
    }

    // MARK: - Packs

    /// Pack changes need the admin token; a server started without one refuses them all (403), a wrong or missing
    /// token is 401.
    public func authorize(_ authorization: String?) throws {
        guard let token = configuration.adminToken else {
            throw ServerError(.forbidden, "pack changes are disabled: this server was started without an admin token")
        }
        guard let authorization, authorization.hasPrefix("Bearer "),
              Self.constantTimeEqual(Array(authorization.utf8.dropFirst(7)), Array(token.utf8)) else {
            throw ServerError(.unauthorized, "pack changes need the header Authorization: Bearer <admin token>; it is missing or wrong")
        }
    }

    /// Compares secrets in time independent of where they differ.
    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Loads or replaces a pack from its file's bytes; true when it was new.
    public func putPack(name: String, bytes: [UInt8]) async throws -> (JSONValue, created: Bool) {
        let ready = try requireReady()
        guard PackRegistry.isValidName(name) else {
            throw ServerError(.badRequest, "\"\(name)\" is not a pack name (1 to 64 letters, digits, '-', '_' or '.', not starting with '.')")
        }
        guard !bytes.isEmpty else { throw ServerError(.badRequest, "the request body is empty: send the pack file's bytes") }
        let backbone = ready.registry.backbone
        // Reading and checking a pack is file work: done on the decode threads, never on the event loops.
        let loaded: Result<TaskModel, ServerError> = await withCheckedContinuation { continuation in
            decoders.submit {
                do throws(ServerError) {
                    continuation.resume(returning: .success(try PackRegistry.load(bytes: bytes, name: name, backbone: backbone)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        let (snapshot, replaced) = await ready.registry.install(try loaded.get(), as: name)
        metrics.setLoadedPacks(await ready.registry.all().count)
        Self.logger.info("pack \(name) \(replaced ? "replaced" : "loaded") (version \(snapshot.version))")
        return (Self.describe(snapshot), !replaced)
    }

    public func deletePack(name: String) async throws {
        let ready = try requireReady()
        guard await ready.registry.remove(name) else { throw ServerError(.notFound, "no pack named \"\(name)\" is loaded") }
        metrics.setLoadedPacks(await ready.registry.all().count)
        Self.logger.info("pack \(name) removed")
    }

    /// The backbone and every loaded pack.
    public func listPacks() async throws -> JSONValue {
        let ready = try requireReady()
        let backbone = ready.registry.backbone
        let (hidden, layers, heads) = backbone.sizes
        let packs = await ready.registry.all()
        return .object([
            ("backbone", .object([
                ("architecture", .string(backbone.architecture.rawValue)), ("fingerprint", .string(backbone.fingerprint)),
                ("hidden_size", .int(hidden)), ("layers", .int(layers)), ("heads", .int(heads)),
                ("sample_rate", .int(backbone.sampleRate)), ("labels", .array(backbone.labels.map(JSONValue.string))),
            ])),
            ("packs", .array(packs.map(Self.describe))),
        ])
    }

    static func describe(_ snapshot: PackSnapshot) -> JSONValue {
        let task = snapshot.task
        let pack = task.pack!
        return .object([
            ("name", .string(snapshot.name)), ("version", .int(snapshot.version)),
            ("labels", .array(task.labels.map(JSONValue.string))), ("head", .string(pack.head.type.rawValue)),
            ("multi_label", .bool(pack.head.multiLabel)), ("embedding", .bool(task.embeddingOnly)),
            ("parameters", .int(pack.parameterCount)), ("fingerprint", .string(pack.backbone.fingerprint)),
        ])
    }

    /// An engine error in the server's words: the library's message, and what to change as a query parameter.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? EngineError else { return "\(error)" }
        return error.message + hint(for: error)
    }

    static func hint(for error: EngineError) -> String {
        switch error.remedy {
        case .scoreInWindows?: return "; add window=SECONDS (e.g. window=30) to score it in windows"
        case .longerHop?: return "; use a longer hop"
        case .embedInstead?: return ": use /v1/embed"
        case .givePack?: return "; add pack=NAME"
        default: return ""
        }
    }
}
