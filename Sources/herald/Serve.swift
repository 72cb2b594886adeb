import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore
import HeraldInbox
import HeraldRuntime
import HeraldServer
import Logging

extension Herald {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "HTTP for the in-app inbox, SMS receipt callbacks, /healthz and /metrics.",
            discussion: """
                Listens on serve.bind (or --bind). Products call /v1/users/{user}/… with a bearer token from \
                serve.clients and X-Tenant-Id; providers push receipts to /v1/receipts/{channel}/{secret}, stored in \
                recipients/inbox/receipts/<channel>/ for the next run. Access logs go to stderr as JSON lines. \
                SIGTERM or SIGINT stops it after the requests in flight.
                """
        )

        @OptionGroup var options: WorkspaceOptions

        @Option(help: ArgumentHelp("Where to listen (overrides serve.bind); port 0 picks a free one.", valueName: "HOST:PORT"))
        var bind: String?

        func validate() throws {
            if let bind, ServeSettings.address(bind) == nil {
                throw ValidationError("--bind takes HOST:PORT such as 127.0.0.1:8080, got '\(bind)'")
            }
        }

        func run() async throws {
            let workspace = try options.open(secretsOptional: true)
            let stores = try openStores(workspace)
            var server = HeraldServer(workspace: workspace, store: stores.inbox, receiptParsers: ProviderReceipts.parsers)
            server.receiptQueue = stores.receipts
            server.optOuts = stores.optOuts
            if let shared = stores.postgres {
                server.sharedIngest = (shared.queue, shared.ingest, "serve:" + workspace.configuration.worker.resolvedName)
            }
            let problems = server.startupProblems
            guard problems.isEmpty else {
                for problem in problems { printError("herald serve: \(problem)") }
                throw ExitCode(2)
            }
            let settings = workspace.configuration.serve
            if let warning = server.prepareDescriptorLimit() { printError("herald serve: \(warning)") }

            if settings.clients.isEmpty {
                printError("herald serve: no serve.clients in herald.yaml; every /v1/users request will be refused (401)")
            }
            let zone = workspace.configuration.timeZone
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, timeZone: zone) }
            let logger = Logger(label: "herald.serve")
            let (host, port) = bind.flatMap(ServeSettings.address) ?? (settings.host, settings.port)
            let app = server.application(logger: logger, host: host, port: port) { actual in
                let shown = host.contains(":") ? "[\(host)]" : host
                Console.write("herald serve: listening on http://\(shown):\(actual)\n", to: .standardOutput)
            }
            try await HeraldServer.run(app, logger: logger)
            Console.write("herald serve: stopped\n", to: .standardOutput)
        }
    }
}
