import ArgumentParser
import Foundation
import HeraldCore

extension Herald {
    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one notification from flags, through the same chain as a batch row.",
            discussion: "Example: herald send --template verify_code --to sms:13800138000 --to mail:li@example.com --param code=482913"
        )

        @OptionGroup var options: WorkspaceOptions

        @Option(help: "The template code.")
        var template: String

        @Option(name: .customLong("to"), help: ArgumentHelp("A channel and address: mail:ADDR, sms:MOBILE, site:USER_ID, wechat_mp:OPENID, wechat_mini:OPENID, wecom:USERID, dingtalk:USERID, feishu:OPEN_ID. Repeatable.", valueName: "CHANNEL:ADDRESS"))
        var recipients: [String]

        @OptionGroup var parameters: ParameterOptions

        @Option(help: "The recipient's locale.")
        var locale: String?

        @Option(help: "Tenant id for site messages.")
        var tenant: String?

        @Option(help: "An id that makes the send idempotent: a second send with the same id is a duplicate.")
        var id: String?

        @Flag(help: "Validate and render only.")
        var dryRun = false

        func validate() throws {
            if let id, let problem = BatchContext.declaredIDProblem(id) { throw ValidationError("--id: \(problem)") }
            for recipient in recipients {
                let parts = recipient.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, Channel(rawValue: String(parts[0])) != nil else {
                    throw ValidationError("--to takes CHANNEL:ADDRESS with CHANNEL one of site, mail, sms, wechat_mp, wechat_mini, wecom, dingtalk, feishu; got '\(recipient)'")
                }
            }
        }

        func run() async throws {
            let workspace = try options.open()
            // Every --to is a recipient of its own: row N is the Nth --to.
            let rows = recipients.enumerated().map { index, recipient -> RecipientRow in
                let parts = recipient.split(separator: ":", maxSplits: 1).map(String.init)
                var row = RecipientRow(row: index + 1, template: template, channels: [parts[0]], parameters: parameters.values)
                row.recipient.locale = locale
                row.recipient.tenantID = tenant
                if let channel = Channel(rawValue: parts[0]) { row.recipient.setAddress(parts[1], for: channel) }
                return row
            }
            let lock = try lockWorkspace(workspace, command: "herald send")
            let context = try await openRun(workspace)
            let summary = try await OneOffSend(context).send(rows, batchID: "send:\(id ?? UUID().uuidString.lowercased())", dryRun: dryRun)

            if !dryRun { updateMetrics(workspace, lastRun: nil) }
            withExtendedLifetime(lock) {}
            print(summary.table())
            if summary.hasFailures { throw ExitCode(1) }
        }
    }
}
