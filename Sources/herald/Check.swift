import ArgumentParser
import HeraldCore

extension Herald {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate herald.yaml and every template.",
            discussion: "Prints one `path:line:col: error: message` line per problem. Exit 0 clean, 1 warnings only, 2 errors."
        )

        @OptionGroup var options: WorkspaceOptions

        func run() throws {
            let diagnostics = WorkspaceCheck.run(root: options.root)
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
    }
}
