import Foundation
import Yams

/// Reads YAML documents node by node, collecting diagnostics that point at the line and
/// column the parser marked for the offending key or value.
///
/// Loaders of herald.yaml and templates share it, so every unknown key, missing field and
/// wrong type is reported the same way.
final class YAMLReader {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    /// Parses `text`; a syntax error becomes a diagnostic and the result is nil.
    func parse(_ text: String) -> Node? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                error("file is empty", at: SourceLocation(file: file))
                return nil
            }
            return node
        } catch let yamlError as YamlError {
            var (message, mark) = Self.explain(yamlError)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if let line = mark?.line, line >= 1, line <= lines.count, lines[line - 1].contains("${"),
               message.contains("flow mapping") {
                message += "; inside { } quote a ${NAME} value: password: \"${NAME}\""
            }
            error("YAML syntax: \(message)", at: location(mark))
            return nil
        } catch {
            self.error("YAML syntax: \(error)", at: SourceLocation(file: file))
            return nil
        }
    }

    func location(_ node: Node?) -> SourceLocation {
        location(node?.mark)
    }

    func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ message: String, at node: Node?) {
        error(message, at: location(node))
    }

    func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
    }

    func warning(_ message: String, at node: Node?) {
        diagnostics.append(.warning(message, at: location(node)))
    }

    /// Adds diagnostics found by another pass over the same file.
    func append(_ more: [Diagnostic]) {
        diagnostics.append(contentsOf: more)
    }

    /// Reads `node` as a mapping with string keys. Keys outside `allowed` are errors with a
    /// "did you mean" hint; `what` names the mapping in messages ("mail variant").
    func mapping(_ node: Node, _ what: String, allowed: [String]? = nil) -> YAMLMapping? {
        guard let mapping = node.mapping else {
            error("\(what) must be a mapping of keys to values", at: node)
            return nil
        }
        var entries: [YAMLMapping.Entry] = []
        var misspelt: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                error("\(what) has a key that is not a plain name", at: keyNode)
                continue
            }
            if let allowed, !allowed.contains(key) {
                var message = "unknown key \(Echo.quoted(key)) in \(what)"
                if let guess = Spelling.closest(to: key, among: allowed) {
                    message += "; did you mean '\(guess)'?"
                    misspelt.insert(guess)
                } else {
                    message += "; expected one of \(allowed.joined(separator: ", "))"
                }
                error(message, at: keyNode)
                continue
            }
            entries.append(YAMLMapping.Entry(key: key, keyNode: keyNode, value: value))
        }
        return YAMLMapping(node: node, what: what, entries: entries, misspelt: misspelt)
    }

    /// Set for herald.yaml: a `${NAME}` outside a secret field is an error, not literal text.
    var refusesEnvironmentReferences = false

    /// Reads a scalar as a string; mappings and sequences are errors.
    func string(_ node: Node, _ what: String) -> String? {
        guard let text = secretText(node, what) else { return nil }
        if refusesEnvironmentReferences && text.contains("${") {
            error("\(what) is \(Echo.quoted(text)), but only secret fields (\(Self.secretFields.joined(separator: ", "))) and worker.name read ${NAME} from the environment; write the value itself", at: node)
            return nil
        }
        return text
    }

    /// The fields of herald.yaml that take `${NAME}`, and only that.
    static let secretFields = ["password", "access_key_secret", "secret_key", "secret", "app_secret", "token", "store.url"]

    /// Reads a scalar as a string where `${NAME}` is expected (secret fields).
    func secretText(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            error("\(what) must be a single value, not a list or mapping", at: node)
            return nil
        }
        return scalar.string
    }


    /// Reads `mapping[key]` as a string; when absent and `required`, reports it on the mapping.
    func string(_ mapping: YAMLMapping, _ key: String, required: Bool = false) -> String? {
        guard let value = mapping[key] else {
            if required { missing(key, in: mapping) }
            return nil
        }
        return string(value, "'\(key)' in \(mapping.what)")
    }

    /// Reports that a required key is absent, unless a misspelling of it was reported already.
    func missing(_ key: String, in mapping: YAMLMapping, hint: String? = nil) {
        guard !mapping.misspelt.contains(key) else { return }
        error("\(mapping.what) has no '\(key)'; \(hint ?? "add `\(key):`")", at: mapping.node)
    }

    /// Reads a scalar that must be one of `choices`.
    func choice<T: RawRepresentable>(_ mapping: YAMLMapping, _ key: String, default fallback: T) -> T
    where T: CaseIterable, T.RawValue == String {
        guard let value = mapping[key], let text = string(value, "'\(key)' in \(mapping.what)") else {
            return fallback
        }
        if let chosen = T(rawValue: text) { return chosen }
        let names = T.allCases.map(\.rawValue)
        var message = "'\(key)' in \(mapping.what) is \(Echo.quoted(text)); expected one of \(names.joined(separator: ", "))"
        if let guess = Spelling.closest(to: text, among: names) { message += " (did you mean '\(guess)'?)" }
        error(message, at: value)
        return fallback
    }

    /// Reads a boolean scalar (`true`/`false`, `yes`/`no`).
    func bool(_ mapping: YAMLMapping, _ key: String) -> Bool? {
        guard let value = mapping[key], let text = string(value, "'\(key)' in \(mapping.what)") else {
            return nil
        }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error("'\(key)' in \(mapping.what) must be true or false, not \(Echo.quoted(text))", at: value)
            return nil
        }
    }

    /// Reads a scalar or a list of scalars as a list of strings (`channel: aliyun` or `[a, b]`).
    func strings(_ mapping: YAMLMapping, _ key: String) -> [String]? {
        guard let value = mapping[key] else { return nil }
        if let sequence = value.sequence {
            return sequence.compactMap { string($0, "an item of '\(key)' in \(mapping.what)") }
        }
        return string(value, "'\(key)' in \(mapping.what)").map { [$0] }
    }

    private static func explain(_ error: YamlError) -> (String, Mark?) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            guard let context else { return (problem, mark) }
            return ("\(problem) \(context.text) that started at line \(context.mark.line), column \(context.mark.column)", mark)
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ("duplicate key \(keys); each key may appear once", context.mark)
        case let .reader(problem, _, _, _):
            return (problem, nil)
        default:
            return ("\(error)", nil)
        }
    }
}

/// A YAML mapping read by `YAMLReader`, keeping each key's node for locations.
struct YAMLMapping {
    struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
    }

    var node: Node
    var what: String
    var entries: [Entry]
    /// Allowed keys that an unknown key was reported as a likely misspelling of.
    var misspelt: Set<String> = []

    subscript(key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    func keyNode(_ key: String) -> Node? {
        entries.first { $0.key == key }?.keyNode
    }

    var keys: [String] { entries.map(\.key) }
}

/// Suggestions for misspelt names.
public enum Spelling {
    /// The candidate `word` was probably meant to be, for "did you mean" hints.
    public static func suggestion(for word: String, among candidates: [String]) -> String? {
        closest(to: word, among: candidates)
    }

    /// The candidate nearest to `word` by edit distance, if it is close enough to be a typo.
    static func closest(to word: String, among candidates: [String]) -> String? {
        // The tolerance is at most 3 edits, and the distance is at least the difference in
        // length: a candidate further off than that cannot be the one, and a huge word (a 1 MB
        // value) costs nothing to turn down.
        let length = word.count
        let scored = candidates.filter { abs($0.count - length) <= 3 }.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let tolerance = max(1, min(3, best.0.count / 3))
        return best.1 <= tolerance ? best.0 : nil
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [Int](repeating: 0, count: b.count + 1)
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            previous2 = previous
            previous = current
        }
        return previous[b.count]
    }
}
