import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore

extension Channel: ExpressibleByArgument {}

extension Herald {
    struct Preview: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a template's variants with sample parameters.",
            discussion: "Mail is printed as the full RFC 5322 message; SMS with its length and parts; WeChat and site messages as JSON."
        )

        @OptionGroup var options: WorkspaceOptions

        @Argument(help: "The template code (its file stem).")
        var code: String

        @OptionGroup var parameters: ParameterOptions

        @Option(help: "Only this channel (site, mail, sms, wechat_mp, wechat_mini, wecom, dingtalk, feishu); repeatable.")
        var channel: [Channel] = []

        @Option(help: "The recipient's locale (en, zh-CN...).")
        var locale: String?

        @Option(help: ArgumentHelp("Mail recipient address shown in To.", valueName: "ADDR"))
        var to: String = "recipient@example.com"

        @Option(help: ArgumentHelp("Write one file per variant into DIR instead of printing.", valueName: "DIR"))
        var out: String?

        func run() throws {
            let workspace = try options.open(secretsOptional: true)
            let values = parameters.values
            let documents: [PreviewDocument]
            do {
                documents = try TemplatePreview(workspace: workspace)
                    .render(code: code, channels: channel, parameters: values, locale: locale, mailRecipient: to)
            } catch let error as PreviewError {
                printError("herald preview: \(error)")
                throw ExitCode(2)
            } catch let error as RenderError {
                printError("herald preview: \(error); pass --param \(error.missingParameter ?? "name")=VALUE")
                throw ExitCode(1)
            }
            if let out {
                let folder = URL(fileURLWithPath: out, isDirectory: true)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for document in documents {
                    let url = folder.appendingPathComponent(document.fileName)
                    try Data(document.body.utf8).write(to: url, options: .atomic)
                    print("wrote \(url.path)")
                }
                return
            }
            for document in documents {
                if documents.count > 1 {
                    print("── \(document.channel.rawValue)\(document.locale.map { " (\($0))" } ?? "") ──")
                }
                print(document.body, terminator: document.body.hasSuffix("\n") ? "" : "\n")
            }
        }
    }
}
