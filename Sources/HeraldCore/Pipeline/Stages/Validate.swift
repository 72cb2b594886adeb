import Foundation

extension PipelineStage {
    /// **validate**: the template is enabled, each address is well formed (and normalised),
    /// every required parameter has a value.
    public static func validate(using renderer: TemplateRenderer) -> PipelineStage {
        .eachDelivery(.validate) { job, delivery throws(StageFailure) in
            guard let template = job.template else { return }
            if template.status == .disabled {
                throw StageFailure(.skipped, code: .templateDisabled, "template '\(template.code)' is disabled")
            }
            if delivery.address.isEmpty {
                throw StageFailure(.skipped, code: .noAddress,
                                   "no \(delivery.channel.addressColumn) for the \(delivery.channel.rawValue) channel")
            }
            switch AddressValidation.normalize(delivery.address, for: delivery.channel) {
            case let .success(address): delivery.address = address
            case let .failure(failure): throw failure
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
