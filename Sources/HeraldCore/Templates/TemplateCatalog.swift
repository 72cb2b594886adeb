import Foundation

/// Every template of a workspace, by code.
///
/// ```swift
/// let (catalog, diagnostics) = TemplateCatalog.load(from: workspace)
/// catalog["order_shipped"]?.channels   // [.site, .mail, .sms]
/// ```
public struct TemplateCatalog: Sendable {
    /// Templates by code.
    public private(set) var templates: [String: Template]

    /// Creates a catalog from templates already built (tests, `herald send`).
    public init(_ templates: [Template] = []) {
        self.templates = Dictionary(templates.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The template with `code`.
    public subscript(code: String) -> Template? { templates[code] }

    /// Codes in alphabetical order.
    public var codes: [String] { templates.keys.sorted() }

    /// Loads `templates/*.yaml` (and `*.yml`) under `root`. Files with errors are left out
    /// of the catalog and described in the diagnostics.
    public static func load(from root: URL) -> (TemplateCatalog, [Diagnostic]) {
        let directory = WorkspacePaths.templatesFolder
        let folder = WorkspacePaths(root: root).templates
        var diagnostics: [Diagnostic] = []
        var catalog = TemplateCatalog()
        var firstFile: [String: String] = [:]
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        } catch {
            diagnostics.append(.error("no templates folder; create \(directory)/ with one YAML file per notification",
                                      at: SourceLocation(file: directory)))
            return (catalog, diagnostics)
        }
        for name in names where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            guard url.pathExtension == "yaml" || url.pathExtension == "yml" else { continue }
            let file = "\(directory)/\(name)"
            let code = url.deletingPathExtension().lastPathComponent
            guard isValidCode(code) else {
                let suggestion = suggestedCode(for: code)
                diagnostics.append(.error("file name '\(name)' is not a valid template code ([a-z0-9_]+); rename it to '\(suggestion).\(url.pathExtension)'",
                                          at: SourceLocation(file: file)))
                continue
            }
            if let earlier = firstFile[code] {
                diagnostics.append(.error("duplicate template code '\(code)': \(earlier) defines it already",
                                          at: SourceLocation(file: file)))
                continue
            }
            firstFile[code] = file
            guard let data = FileManager.default.contents(atPath: url.path),
                  let text = String(data: data, encoding: .utf8) else {
                diagnostics.append(.error("file is not readable UTF-8 text", at: SourceLocation(file: file)))
                continue
            }
            let (template, problems) = TemplateLoader.load(code: code, file: file, text: text)
            diagnostics += problems
            if let template, !problems.hasErrors {
                catalog.templates[code] = template
            }
        }
        return (catalog, diagnostics)
    }

    /// Whether `code` matches `[a-z0-9_]+`.
    public static func isValidCode(_ code: String) -> Bool {
        !code.isEmpty && code.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    static func suggestedCode(for name: String) -> String {
        let mapped = name.lowercased().unicodeScalars.map { scalar -> Character in
            (("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)) ? Character(scalar) : "_"
        }
        return String(mapped)
    }
}
