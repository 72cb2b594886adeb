import ArgumentParser

/// `--param k=v`, repeatable, for commands that render templates.
struct ParameterOptions: ParsableArguments {
    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter value. Repeatable.", valueName: "k=v"))
    var parameters: [String] = []

    func validate() throws {
        for parameter in parameters where !parameter.contains("=") {
            throw ValidationError("--param takes key=value, got '\(parameter)'")
        }
    }

    /// The values by name; a later `--param` for the same name wins.
    var values: [String: String] {
        Dictionary(parameters.map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { _, last in last })
    }
}
