import Foundation
import PackagePlugin

/// Writes `GitCommit.swift` (`let buildGitCommit = "…"`) before every build of the `ipet` target, so that
/// `ipet --version` names the commit the binary was built from ("unknown" outside a git checkout, "-dirty" with
/// uncommitted changes). The file is rewritten only when the commit changes, so it costs no recompilation otherwise.
@main
struct GitCommitStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "GitCommit.swift")
        let script = context.package.directoryURL.appending(path: "tools/git-commit-stamp")
        return [
            .prebuildCommand(
                displayName: "Stamping the git commit into ipet",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, context.package.directoryURL.path, output.path],
                outputFilesDirectory: context.pluginWorkDirectoryURL),
        ]
    }
}
