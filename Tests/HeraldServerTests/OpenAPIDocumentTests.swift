import Foundation
import HeraldCore
import HeraldInbox
import HeraldServer
import HeraldTestSupport
import Logging
import Testing
import Yams

/// `Sources/HeraldServer/openapi.yaml` against the server: the same routes, and real answers
/// that have a documented status and match the documented schema.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct OpenAPIDocumentTests {
    static let documentURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/HeraldServer/openapi.yaml")

    static func document() throws -> [String: Any] {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    /// `GET /v1/users/{user}/messages` → operation.
    static func operations(_ document: [String: Any]) throws -> [String: [String: Any]] {
        let paths = try #require(document["paths"] as? [String: Any])
        var operations: [String: [String: Any]] = [:]
        for (path, item) in paths {
            for (method, operation) in try #require(item as? [String: Any]) {
                operations["\(method.uppercased()) \(path)"] = operation as? [String: Any]
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let workspace = try TemporaryWorkspace(files: ["herald.yaml": "site: {transport: inbox}\n", "templates/.keep": ""])
        try FileManager.default.createDirectory(at: workspace.url.appendingPathComponent("templates"), withIntermediateDirectories: true)
        let server = HeraldServer(workspace: try Workspace.open(at: workspace.url), store: MemoryInboxStore())
        let routes = Set(server.router(logger: Logger(label: "test")).routes.map { "\($0.method.rawValue) \($0.path)" })
        let documented = Set(try Self.operations(try Self.document()).keys)
        #expect(routes == documented, "only in the server: \(routes.subtracting(documented)); only in the document: \(documented.subtracting(routes))")
        #expect(routes.count == 13)
    }

    @Test func answersHaveADocumentedStatusAndMatchTheirSchema() async throws {
        let document = try Self.document()
        let operations = try Self.operations(document)
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let token = ServeFixture.shopToken
        let secret = ServeFixture.receiptSecret
        let unsubscribeToken = UnsubscribeToken.make(address: "promo@example.com", category: .marketing, tenant: "0",
                                                     secret: ServeFixture.unsubscribeSecret)
        let receipt = Data(#"[{"phone_number": "13800130000", "success": true, "err_code": "DELIVERED", "biz_id": "x", "out_id": "none"}]"#.utf8)
        let exchanges: [(route: String, method: String, path: String, token: String?, tenant: String?, body: Data?)] = [
            ("GET /healthz", "GET", "/healthz", nil, nil, nil),
            ("GET /metrics", "GET", "/metrics", nil, nil, nil),
            ("GET /v1/users/{user}/messages", "GET", "/v1/users/1/messages?size=5", token, nil, nil),
            ("GET /v1/users/{user}/messages", "GET", "/v1/users/1/messages?unread=maybe", token, nil, nil),
            ("GET /v1/users/{user}/messages", "GET", "/v1/users/1/messages", nil, nil, nil),
            ("GET /v1/users/{user}/messages", "GET", "/v1/users/1/messages", token, "2", nil),
            ("GET /v1/users/{user}/unread-count", "GET", "/v1/users/1/unread-count", token, nil, nil),
            ("GET /v1/users/{user}/unread-count", "GET", "/v1/users/1/unread-count", token, "a b", nil),
            ("POST /v1/users/{user}/messages/{id}/read", "POST", "/v1/users/1/messages/n1/read", token, nil, nil),
            ("POST /v1/users/{user}/messages/{id}/read", "POST", "/v1/users/1/messages/999/read", token, nil, nil),
            ("POST /v1/users/{user}/messages/read", "POST", "/v1/users/1/messages/read", token, nil, Data(#"{"ids":["n1"]}"#.utf8)),
            ("POST /v1/users/{user}/messages/read", "POST", "/v1/users/1/messages/read", token, nil, Data("{".utf8)),
            ("POST /v1/users/{user}/messages/read", "POST", "/v1/users/1/messages/read", token, nil, Data(repeating: 0x20, count: 5000)),
            ("POST /v1/users/{user}/messages/read-all", "POST", "/v1/users/1/messages/read-all", token, nil, nil),
            ("POST /v1/users/{user}/messages/read-all", "POST", "/v1/users/1/messages/read-all", token, "9", nil),
            ("GET /v1/demo", "GET", "/v1/demo", nil, nil, nil),
            ("GET /v1/unsubscribe/{token}", "GET", "/v1/unsubscribe/\(unsubscribeToken)", nil, nil, nil),
            ("GET /v1/unsubscribe/{token}", "GET", "/v1/unsubscribe/forged.00", nil, nil, nil),
            ("POST /v1/unsubscribe/{token}", "POST", "/v1/unsubscribe/\(unsubscribeToken)", nil, nil, Data("List-Unsubscribe=One-Click".utf8)),
            ("POST /v1/unsubscribe/{token}", "POST", "/v1/unsubscribe/forged.00", nil, nil, nil),
            // The stream itself never ends; LiveEventsTests reads it. Here: the answers that do end.
            ("GET /v1/users/{user}/events", "GET", "/v1/users/1/events", nil, nil, nil),
            ("GET /v1/users/{user}/events", "GET", "/v1/users/1/events?last_event_id=x", token, nil, nil),
            ("POST /v1/notifications", "POST", "/v1/notifications", ServeFixture.appToken, nil,
             Data(#"{"template": "order_shipped", "user_id": "9", "params": {"name": "李雷", "orderId": "Z1"}}"#.utf8)),
            ("POST /v1/notifications", "POST", "/v1/notifications", ServeFixture.appToken, nil,
             Data(#"{"template": "order_shipped", "user_id": "9", "params": {}}"#.utf8)),
            ("POST /v1/notifications", "POST", "/v1/notifications", ServeFixture.appToken, nil, Data("nope".utf8)),
            ("POST /v1/notifications", "POST", "/v1/notifications", token, nil, Data("{}".utf8)),
            ("POST /v1/receipts/{channel}/{secret}", "POST", "/v1/receipts/aliyun/\(secret)", nil, nil, receipt),
            ("POST /v1/receipts/{channel}/{secret}", "POST", "/v1/receipts/tencent/\(secret)", nil, nil, Data("[]".utf8)),
            ("POST /v1/receipts/{channel}/{secret}", "POST", "/v1/receipts/aliyun/\(secret)", nil, nil, Data("{".utf8)),
            ("POST /v1/receipts/{channel}/{secret}", "POST", "/v1/receipts/aliyun/wrong", nil, nil, receipt),
        ]
        var statusesSeen: [String: Set<Int>] = [:]
        for exchange in exchanges {
            let reply = try await server.request(exchange.method, exchange.path, token: exchange.token, tenant: exchange.tenant, body: exchange.body)
            let operation = try #require(operations[exchange.route], "\(exchange.route) is not in the document")
            let responses = try #require(operation["responses"] as? [String: Any])
            statusesSeen[exchange.route, default: []].insert(reply.status)
            guard let documented = responses[String(reply.status)] else {
                Issue.record("\(exchange.method) \(exchange.path) answered \(reply.status), not documented for \(exchange.route)")
                continue
            }
            let response = try Schema.resolve(documented, in: document)
            guard let content = response["content"] as? [String: Any] else { continue }
            let contentType = reply.headers["content-type"] ?? ""
            if let json = content["application/json"] as? [String: Any] {
                #expect(contentType.hasPrefix("application/json"), "\(exchange.path): \(contentType)")
                let value = try JSONSerialization.jsonObject(with: Data(reply.body.utf8), options: [.fragmentsAllowed])
                let problems = Schema.validate(value, against: try #require(json["schema"] as? [String: Any]), in: document)
                #expect(problems.isEmpty, "\(exchange.method) \(exchange.path) → \(reply.status): \(problems) in \(reply.body)")
            } else if content["text/plain"] != nil {
                #expect(contentType.hasPrefix("text/plain"), "\(exchange.path): \(contentType)")
            }
        }
        #expect(Set(statusesSeen.keys) == Set(operations.keys), "every documented operation is exercised")
        #expect(statusesSeen["POST /v1/users/{user}/messages/read"] == [200, 400, 413])
        #expect(statusesSeen["POST /v1/receipts/{channel}/{secret}"] == [200, 400, 404])
        #expect(statusesSeen["POST /v1/notifications"] == [202, 400, 403, 422])
        _ = server.stop()
    }
}

/// The part of JSON Schema the document uses: $ref, type, required, properties, items, enum, oneOf.
enum Schema {
    static func resolve(_ node: Any, in document: [String: Any]) throws -> [String: Any] {
        guard var object = node as? [String: Any] else { throw ServeError(message: "schema node is not a mapping: \(node)") }
        while let reference = object["$ref"] as? String {
            var target: Any = document
            for part in reference.dropFirst(2).split(separator: "/") {
                guard let next = (target as? [String: Any])?[String(part)] else { throw ServeError(message: "dangling \(reference)") }
                target = next
            }
            guard let resolved = target as? [String: Any] else { throw ServeError(message: "\(reference) is not a mapping") }
            object = resolved
        }
        return object
    }

    static func validate(_ value: Any, against node: [String: Any], in document: [String: Any], at path: String = "$") -> [String] {
        guard let schema = try? resolve(node, in: document) else { return ["\(path): unresolvable schema"] }
        if let choices = schema["oneOf"] as? [Any] {
            let passing = choices.filter { choice in
                (choice as? [String: Any]).map { validate(value, against: $0, in: document, at: path).isEmpty } ?? false
            }
            return passing.count == 1 ? [] : ["\(path): matches \(passing.count) of oneOf"]
        }
        var problems: [String] = []
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                problems.append("\(path): missing \(key)")
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, item) in object {
                guard let property = properties[key] as? [String: Any] else {
                    if !properties.isEmpty { problems.append("\(path): undocumented property \(key)") }
                    continue
                }
                problems += validate(item, against: property, in: document, at: "\(path).\(key)")
            }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            if let items = schema["items"] as? [String: Any] {
                for (index, item) in array.enumerated() { problems += validate(item, against: items, in: document, at: "\(path)[\(index)]") }
            }
        case "string":
            guard let text = value as? String else { return ["\(path): not a string"] }
            if let choices = schema["enum"] as? [String], !choices.contains(text) { problems.append("\(path): '\(text)' not in \(choices)") }
            if schema["format"] as? String == "date-time", Timestamp.parse(text) == nil { problems.append("\(path): '\(text)' is not date-time") }
        case "integer":
            if value as? Int == nil { problems.append("\(path): not an integer") }
        case "boolean":
            if value as? Bool == nil { problems.append("\(path): not a boolean") }
        default:
            break
        }
        return problems
    }
}
