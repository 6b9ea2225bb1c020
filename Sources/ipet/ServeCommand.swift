import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels
import IPETServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a backbone and packs over HTTP: one resident backbone, packs chosen per request and hot-swapped.",
        discussion: """
            The API is in Formats/http-api.md (OpenAPI: Formats/http-api.openapi.json): POST /v1/classify?pack=NAME \
            (body: an audio file), POST /v1/embed, GET /v1/packs, PUT and DELETE /v1/packs/NAME (with --admin-token-file), \
            GET /healthz, /readyz, /metrics. When it is ready it prints one line on standard error, \
            "ipet serve: listening on http://HOST:PORT". SIGTERM or SIGINT stops it gracefully: no new connections, \
            every admitted request answered, exit 0.

            Examples:
              ipet serve --backbone Fixtures/demo/backbone --pack Fixtures/demo/packs/keywords.ipet
              ipet serve --backbone ast-audioset --packs-dir packs/ --host 0.0.0.0 --port 8080 --admin-token-file token
            """)

    @Option(help: ArgumentHelp(HelpText.backbone, valueName: "model"))
    var backbone: String

    @Option(help: ArgumentHelp(HelpText.pack + " NAME=PATH names it; a bare PATH is named after its file stem. Repeatable.",
                               valueName: "[name=]pack.ipet"))
    var pack: [String] = []

    @Option(name: .customLong("packs-dir"), help: "Load every .ipet file of this folder at start, named after its file stem.")
    var packsDir: String?

    @Option(help: "Interface to listen on (default loopback; 0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "TCP port (0 = a free port, reported on the listening line).")
    var port = 8080

    @Option(name: .customLong("max-batch"), help: "Most windows per model call, across concurrent requests.")
    var maxBatch = 8

    @Option(name: .customLong("batch-wait-ms"), help: "How long a request waits for others to share its batch, in milliseconds.")
    var batchWaitMs = 5.0

    @Option(name: .customLong("max-queue"), help: "Most requests waiting for the model; more are answered 503 with Retry-After (0: every inference request is).")
    var maxQueue = 64

    @Option(name: .customLong("max-body-mb"), help: "Largest request body in MB (1 MB = 2^20 bytes); larger ones are answered 413.")
    var maxBodyMb = 64.0

    @Option(name: .customLong("request-timeout-s"), help: "Seconds a request may take; past it, 504 and its work is dropped.")
    var requestTimeoutS = 60.0

    @Option(name: .customLong("max-audio-s"), help: "Longest audio a request may carry, in seconds once decoded (longer uploads are answered 400).")
    var maxAudioS = 600.0

    @Option(name: .customLong("idle-timeout-s"), help: "Seconds a connection may send nothing while its request is incomplete, or stay idle between requests, before it is closed.")
    var idleTimeoutS = 30.0

    @Option(name: .customLong("admin-token-file"), help: "A file holding the bearer token that PUT and DELETE /v1/packs/NAME need (without it they answer 403).")
    var adminTokenFile: String?

    @Flag(name: .customLong("allow-mismatch"), help: "Load packs given at start that were made for other weights of the same shape (with a warning).")
    var allowMismatch = false

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port takes 0 to 65535") }
        guard (1...1024).contains(maxBatch) else { throw ValidationError("--max-batch takes 1 to 1024") }
        guard batchWaitMs.isFinite, (0...10_000).contains(batchWaitMs) else { throw ValidationError("--batch-wait-ms takes 0 to 10000") }
        guard (0...1_000_000).contains(maxQueue) else { throw ValidationError("--max-queue takes 0 to 1000000") }
        guard maxBodyMb.isFinite, maxBodyMb > 0, maxBodyMb <= 4096 else { throw ValidationError("--max-body-mb takes more than 0 up to 4096") }
        guard requestTimeoutS.isFinite, requestTimeoutS > 0, requestTimeoutS <= 86_400 else {
            throw ValidationError("--request-timeout-s takes more than 0 up to 86400")
        }
        guard maxAudioS.isFinite, maxAudioS > 0, maxAudioS <= 43_200 else { throw ValidationError("--max-audio-s takes more than 0 up to 43200") }
        guard idleTimeoutS.isFinite, idleTimeoutS > 0, idleTimeoutS <= 86_400 else {
            throw ValidationError("--idle-timeout-s takes more than 0 up to 86400")
        }
        for spec in pack where Self.split(spec).name.isEmpty { throw ValidationError("--pack \(spec): the name before '=' is empty") }
    }

    /// `NAME=PATH` or `PATH` (named after its file stem).
    static func split(_ spec: String) -> (name: String, path: String) {
        if let eq = spec.firstIndex(of: "="), !spec[..<eq].contains("/") {
            return (String(spec[..<eq]), String(spec[spec.index(after: eq)...]))
        }
        return (URL(fileURLWithPath: spec).deletingPathExtension().lastPathComponent, spec)
    }

    func run() throws {
        compute.apply()
        var configuration = ServerConfiguration()
        var packs: [(name: String, path: String)] = pack.map(Self.split)
        do {
            if let packsDir {
                let entries = try FileManager.default.contentsOfDirectory(atPath: packsDir).filter { $0.hasSuffix(".ipet") }.sorted()
                packs += entries.map { (String($0.dropLast(5)), (packsDir as NSString).appendingPathComponent($0)) }
            }
            var seen = Set<String>()
            for (name, path) in packs {
                guard PackRegistry.isValidName(name) else {
                    throw CommandError("\(path): \"\(name)\" is not a pack name (letters, digits, '-', '_', '.'); give one with --pack NAME=PATH")
                }
                guard seen.insert(name).inserted else { throw CommandError("\(path): a second pack named \"\(name)\"; give one with --pack NAME=PATH") }
            }
            if let adminTokenFile {
                let token = try String(contentsOfFile: adminTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !token.isEmpty else { throw CommandError("\(adminTokenFile): the admin token file is empty") }
                configuration.adminToken = token
            }
        } catch {
            throw fail(error)
        }
        configuration.host = host
        configuration.port = port
        configuration.maxBatch = maxBatch
        configuration.batchWait = .microseconds(Int64(batchWaitMs * 1000))
        configuration.maxQueue = maxQueue
        configuration.maxBodyBytes = Int(maxBodyMb * 1_048_576)
        configuration.requestTimeout = .milliseconds(Int64(requestTimeoutS * 1000))
        configuration.maxAudioSeconds = maxAudioS
        configuration.idleTimeout = .milliseconds(Int64(idleTimeoutS * 1000))
        let backbonePath = backbone
        let allowMismatch = allowMismatch
        let startPacks = packs
        let loader: @Sendable () throws -> InferenceService.Loaded = {
            let model = try Backbone.load(backbonePath)
            let tasks = try startPacks.map { spec in
                (spec.name, try TaskModel(backbone: model, pack: try AdapterPack(path: spec.path), allowMismatch: allowMismatch))
            }
            return (model, tasks)
        }
        let outcome = ServeOutcome()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                try await InferenceServer.run(configuration: configuration, loader: loader, onListening: { url in
                    FileHandle.standardError.write(Data("ipet serve: listening on \(url)\n".utf8))
                }, onStopped: { service in
                    let (admitted, answered) = service.requestCounts
                    FileHandle.standardError.write(Data("ipet serve: stopped; \(admitted) requests admitted, \(answered) answered\n".utf8))
                })
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw fail(error) }
    }
}

/// Carries the server's failure from its task back to the command's thread.
final class ServeOutcome: @unchecked Sendable {
    var error: (any Error)?
}
