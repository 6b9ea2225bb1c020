// swift-tools-version: 6.0
// ipet-swift: converts pretrained audio-transformer checkpoints and runs IPET-tuned audio models on the CPU.
//
// Layers, bottom to top (nothing below imports anything above):
//   C shims (CBLAS, CDNNL, CFFTW, CSndFile, CSoxr, CHDF5, COpenSSL) and CKernels (vectorised element-wise kernels)
//   IPETFormats  - file formats: strict JSON, memory-mapped files, safetensors
//   IPETTensor   - Float32 tensors (owned or mmapped views), GEMM (oneDNN or OpenBLAS), element-wise kernels, threads
//   IPETAudio    - decoding, resampling, Kaldi fbank
//   IPETModels   - AST, wav2vec 2.0, heads, IPET prompts and adapters
//   IPETEngine   - backbones + packs, batch inference, metrics
//   IPETServer   - `ipet serve`: HTTP routes over the engine (Hummingbird), pack registry, dynamic batching
//   ipet         - the command-line tool
// Tuning flags (e.g. -Xswiftc -target-cpu -Xswiftc haswell) go on the command line, never here.
import PackageDescription

let package = Package(
    name: "ipet-swift",
    products: [
        .library(name: "IPET", targets: ["IPET"]),
        .executable(name: "ipet", targets: ["ipet"]),
        .executable(name: "SafeTensorsFuzz", targets: ["SafeTensorsFuzz"]),
        .executable(name: "PickleFuzz", targets: ["PickleFuzz"]),
        .executable(name: "PackFuzz", targets: ["PackFuzz"]),
        .executable(name: "HDF5Fuzz", targets: ["HDF5Fuzz"]),
        .executable(name: "AudioFuzz", targets: ["AudioFuzz"]),
        .executable(name: "JSONFuzz", targets: ["JSONFuzz"]),
        .executable(name: "ManifestFuzz", targets: ["ManifestFuzz"]),
        .executable(name: "TrialFuzz", targets: ["TrialFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // `swift package generate-documentation --target IPETEngine` (DocC); built only when asked for.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // `ipet serve` only (the IPETServer target); the engine and the layers below never see them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already under Hummingbird; named for NIOHTTP1's parser error, which a malformed streamed body throws.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Tests of `ipet serve` talk to it over real HTTP.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // oneDNN ships no pkg-config file: its header is on the default path and the module map links it.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Element-wise kernels in C so they vectorise (AVX2 or AVX-512 chosen at run time) without tuning flags.
        .target(name: "CKernels"),
        .target(name: "IPETFormats", dependencies: ["CHDF5", "COpenSSL"]),
        .target(name: "IPETTensor", dependencies: ["IPETFormats", "CBLAS", "CDNNL", "CKernels"]),
        .target(name: "IPETAudio", dependencies: ["IPETFormats", "CFFTW", "CSndFile", "CSoxr"]),
        .target(
            name: "IPETModels",
            dependencies: ["IPETFormats", "IPETTensor"]),
        .target(
            name: "IPETEngine",
            dependencies: [
                "IPETFormats", "IPETTensor", "IPETAudio", "IPETModels",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The library product: `import IPET` re-exports the engine and the layers below it.
        .target(name: "IPET", dependencies: ["IPETEngine", "IPETModels", "IPETAudio", "IPETFormats", "IPETTensor"]),
        // The HTTP front end over the engine: routes parse and encode, `InferenceService` batches and computes.
        .target(
            name: "IPETServer",
            dependencies: [
                "IPETEngine", "IPETModels", "IPETFormats",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "ipet",
            dependencies: [
                "IPETServer", "IPETEngine", "IPETModels", "IPETAudio", "IPETFormats", "IPETTensor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["GitCommitStamp"]),
        // Stamps the git commit into `ipet --version` before each build.
        .plugin(name: "GitCommitStamp", capability: .buildTool()),
        // libFuzzer entry point: `swift build --sanitize fuzzer --product SafeTensorsFuzz` (see README).
        .executableTarget(name: "SafeTensorsFuzz", dependencies: ["IPETFormats"]),
        // libFuzzer entry point for the PyTorch checkpoint (zip + pickle) reader.
        .executableTarget(name: "PickleFuzz", dependencies: ["IPETFormats"]),
        // One libFuzzer target per reader of untrusted bytes (README "Fuzzing"); FuzzSupport writes inputs to
        // scratch files for the readers that open by path.
        .target(name: "FuzzSupport"),
        .executableTarget(name: "PackFuzz", dependencies: ["IPETModels", "IPETFormats"]),
        .executableTarget(name: "HDF5Fuzz", dependencies: ["IPETFormats", "FuzzSupport"]),
        .executableTarget(name: "AudioFuzz", dependencies: ["IPETAudio", "FuzzSupport"]),
        .executableTarget(name: "JSONFuzz", dependencies: ["IPETFormats", "IPETModels", "IPETAudio"]),
        .executableTarget(
            name: "ManifestFuzz",
            dependencies: ["IPETEngine", "FuzzSupport", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "TrialFuzz", dependencies: ["IPETEngine", "IPETFormats"]),

        .target(name: "IPETTestSupport", dependencies: ["IPETFormats", "IPETTensor"], path: "Tests/IPETTestSupport"),
        .testTarget(name: "IPETFormatsTests", dependencies: ["IPETFormats", "IPETTestSupport"]),
        .testTarget(name: "IPETTensorTests", dependencies: ["IPETTensor", "IPETTestSupport"]),
        .testTarget(name: "IPETAudioTests", dependencies: ["IPETAudio", "IPETTestSupport"]),
        .testTarget(name: "IPETModelsTests", dependencies: ["IPETModels", "IPETTestSupport"]),
        .testTarget(name: "IPETEngineTests", dependencies: ["IPETEngine", "IPETModels", "IPETTestSupport"]),
        .testTarget(name: "IPETCLITests", dependencies: ["ipet", "IPETAudio", "IPETFormats", "IPETEngine", "IPETTestSupport"]),
        // Starts the real `ipet serve` and talks to it over HTTP.
        .testTarget(
            name: "IPETServerTests",
            dependencies: [
                "ipet", "IPETServer", "IPETFormats", "IPETTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
    ]
)
