// swift-tools-version: 6.0
// A complete program that uses ipet-swift as a library: classify one audio file with a backbone and a pack.
//
// In your own package, depend on ipet-swift by URL instead of by path:
//     .package(url: "https://github.com/<owner>/ipet-swift", from: "0.4.0")
//     .product(name: "IPET", package: "ipet-swift")
// Here it depends on the checkout it lives in, whose folder name SwiftPM uses as the package's identity.
import Foundation
import PackageDescription

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "ClassifyFile",
    dependencies: [.package(path: root.path)],
    targets: [
        .executableTarget(name: "classify-file", dependencies: [.product(name: "IPET", package: root.lastPathComponent)]),
    ]
)
