import Foundation

extension PipelineStage {
    /// **validate**: the template is enabled, each address is well formed (and normalised),
    /// every required parameter has a value.
    /// A `timezone` column must name a zone; `send_at` must be a time (read in that zone, or in
    /// `timeZone`, herald.yaml's), at most a year ahead.
    public static func validate(using renderer: TemplateRenderer,
                                timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai") ?? .current) -> PipelineStage {
        .eachDelivery(.validate) { job, delivery throws(StageFailure) in
            guard let template = job.template else { return }
            if template.status == .disabled {
                throw StageFailure(.skipped, code: .templateDisabled, "template '\(template.code)' is disabled")
            }
            var zone = timeZone
            if let name = job.row.recipient.timeZone {
                // A zone name, never a path: Foundation looks names up in the zoneinfo folder.
                guard name.utf8.count <= 64, !name.contains(".."), !name.hasPrefix("/"),
                      name.range(of: "^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$", options: .regularExpression) != nil,
                      let named = TimeZone(identifier: name) else {
                    throw StageFailure(.invalid, code: .unknownTimeZone,
                                       "timezone \(Echo.quoted(name)) is not a time zone; use an IANA name such as Asia/Shanghai or America/New_York")
                }
                zone = named
            }
            if let text = job.row.sendAt {
                guard let at = SendTime.parse(text, in: zone) else {
                    throw StageFailure(.invalid, code: .invalidSendAt,
                        "send_at \(Echo.quoted(text)) is not a time; write 2026-12-01T09:30:00+08:00, or 2026-12-01 09:30 in the recipient's timezone")
                }
                guard at.timeIntervalSinceNow <= SendTime.horizon else {
                    throw StageFailure(.invalid, code: .invalidSendAt, "send_at \(Echo.quoted(text)) is more than a year ahead")
                }
                delivery.sendAt = at
            }
            if delivery.address.isEmpty {
                throw StageFailure(.skipped, code: .noAddress,
                                   "no \(delivery.channel.addressColumn) for the \(delivery.channel.rawValue) channel")
            }
            // A robot's messages go to its group: the load stage gave them the robot's address.
            let robot = template.variants(for: job.row.recipient.locale, channel: delivery.channel).variants.chat(delivery.channel)?.robot
            if robot.map(ChatVariant.robotAddress) != delivery.address {
                switch AddressValidation.normalize(delivery.address, for: delivery.channel) {
                case let .success(address): delivery.address = address
                case let .failure(failure): throw failure
                }
            }
            if delivery.channel == .mail {
                for (column, addresses) in [("cc", job.row.mail.cc), ("bcc", job.row.mail.bcc)] {
                    for address in addresses {
                        if let problem = AddressValidation.emailProblem(address) {
                            throw StageFailure(.invalid, code: FailureCode("invalid_\(column)"), "\(column) '\(address)' is not a valid address: \(problem)")
                        }
                    }
                }
            }
            if let name = renderer.missingParameter(template, parameters: job.row.parameters) {
                throw StageFailure(.invalid, code: .missingParameter,
                                   "missing required parameter '\(name)' for template '\(template.code)'; fill the \(name) column or declare a default")
            }
        }
    }
}
