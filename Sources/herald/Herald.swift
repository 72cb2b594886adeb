import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore
import HeraldRuntime

@main
struct Herald: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "Herald: a file-driven notification pipeline (消息通知系统).",
        discussion: "herald -C DIR COMMAND works like herald COMMAND -C DIR (as git -C and make -C).",
        version: HeraldVersion.current,
        subcommands: [Run.self, Watch.self, Send.self, InboxCommand.self, NoticeCommand.self, SpoolCommand.self, ScheduleCommand.self, ReceiptsCommand.self, BouncesCommand.self, TraceCommand.self, LedgerCommand.self, ReportCommand.self, Serve.self, Check.self, Preview.self]
    )

    /// Runs the command; a usage error exits 2 (as every Herald command documents), not
    /// argument-parser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot(workspaceFirst(Array(CommandLine.arguments.dropFirst())))
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                Console.write(fullMessage(for: error) + "\n", to: .standardError)
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// `-C DIR` (or `--workspace DIR`, `--workspace=DIR`) given before the command moves
/// behind it, so `herald -C /srv/notify run` is `herald run -C /srv/notify`.
func workspaceFirst(_ arguments: [String]) -> [String] {
    guard let first = arguments.first else { return arguments }
    var option: [String]
    var rest: ArraySlice<String>
    if (first == "-C" || first == "--workspace"), arguments.count >= 2 {
        option = Array(arguments[0...1])
        rest = arguments[2...]
    } else if first.hasPrefix("--workspace=") {
        option = [first]
        rest = arguments[1...]
    } else {
        return arguments
    }
    // After the command's own arguments, but before a `--` that ends the options.
    if let end = rest.firstIndex(of: "--") {
        return Array(rest[..<end]) + option + Array(rest[end...])
    }
    return Array(rest) + option
}

/// Options every command takes.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: [.customShort("C"), .customLong("workspace")],
            help: ArgumentHelp("The workspace folder (holding herald.yaml).", valueName: "DIR"))
    var workspace: String = "."

    var root: URL {
        URL(fileURLWithPath: workspace, isDirectory: true).standardizedFileURL
    }

    /// Opens the workspace, or prints every problem and exits 2. Commands that send nothing
    /// pass `secretsOptional` so an unexported password is a warning, not an error.
    func open(secretsOptional: Bool = false) throws -> Workspace {
        do {
            let workspace = try Workspace.open(at: root, secretsOptional: secretsOptional, channels: .builtIn)
            for warning in workspace.warnings { printError(warning.description) }
            return workspace
        } catch let error as DiagnosticsError {
            printError(error.description)
            printError("herald: configuration has errors; run `herald check` for the full list")
            throw ExitCode(2)
        }
    }
}

/// Takes the workspace's run lock, or says another run holds it and exits 2.
func lockWorkspace(_ workspace: Workspace, command: String) throws -> RunLock {
    do {
        return try RunLock(root: workspace.root)
    } catch {
        printError("\(command): \(error)")
        throw ExitCode(2)
    }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    Console.write(line + "\n", to: .standardError)
}

/// The workspace's stores (SQLite, or PostgreSQL when `store.url` is set), or the reason they
/// cannot be opened and exit 2.
func openStores(_ workspace: Workspace) throws -> WorkspaceWiring.Stores {
    do {
        return try WorkspaceWiring.Stores(workspace)
    } catch {
        printError("herald: \(error)")
        throw ExitCode(2)
    }
}
