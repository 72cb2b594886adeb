import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore
import HeraldRuntime

extension Herald {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate herald.yaml and every template.",
            discussion: "Prints one `path:line:col: error: message` line per problem. Exit 0 clean, 1 warnings only, 2 errors."
        )

        @OptionGroup var options: WorkspaceOptions

        func run() throws {
            var diagnostics = WorkspaceCheck.run(root: options.root, channels: .builtIn)
            if !diagnostics.contains(where: { $0.severity == .error }), let taken = workerNameInUse() { diagnostics.append(taken) }
            for diagnostic in diagnostics { print(diagnostic) }
            let errors = diagnostics.filter { $0.severity == .error }.count
            let warnings = diagnostics.count - errors
            if diagnostics.isEmpty {
                print("herald check: herald.yaml and templates are valid")
                return
            }
            print("herald check: \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
            throw ExitCode(errors > 0 ? 2 : 1)
        }

        /// In PostgreSQL mode, an error when a running herald holds this workspace's worker name
        /// (its advisory lock in the shared store is taken): a second worker under it would take
        /// the first one's chunks back.
        func workerNameInUse() -> Diagnostic? {
            guard let workspace = try? Workspace.open(at: options.root, channels: .builtIn), workspace.configuration.store.isShared else { return nil }
            let file = options.root.appendingPathComponent("herald.yaml")
            let location = Self.location(ofWorkerNameIn: (try? String(contentsOf: file, encoding: .utf8)) ?? "")
            let name = workspace.configuration.worker.resolvedName
            do {
                guard let holder = try WorkspaceWiring.workerNameHolder(workspace) else { return nil }
                return .error("worker.name '\(name)' is in use by a running herald (\(holder)): its lock on the name in the "
                              + "shared store is held; give each worker its own worker.name", at: location)
            } catch {
                return .warning("could not ask the shared store whether worker.name '\(name)' is in use: \(error)", at: location)
            }
        }

        /// Where herald.yaml sets `worker.name` (or `worker:`; line 1 without it).
        static func location(ofWorkerNameIn text: String) -> SourceLocation {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("worker:") }) else { return SourceLocation(file: "herald.yaml") }
            var index = start
            repeat {
                if let range = lines[index].range(of: "name:") {
                    return SourceLocation(file: "herald.yaml", line: index + 1,
                                          column: lines[index].unicodeScalars.distance(from: lines[index].startIndex, to: range.lowerBound) + 1)
                }
                index += 1
            } while index < lines.count && (lines[index].hasPrefix(" ") || lines[index].isEmpty)
            return SourceLocation(file: "herald.yaml", line: start + 1)
        }
    }
}
