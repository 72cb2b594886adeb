import Foundation
import HeraldCore
import HeraldInbox
import HTTPTypes
import Hummingbird

/// The 站内信 API: listing, unread counts, marking read.
extension HeraldServer {
    func list(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let query = request.uri.queryParameters
        let unread = try flag(try single(query, "unread"), name: "unread")
        let page = try number(try single(query, "page"), name: "page", default: 1, range: 1...1_000_000)
        let size = try number(try single(query, "size"), name: "size", default: 20, range: 1...100)
        let result = try await store.list(tenant: tenant, user: user, unreadOnly: unread, page: page, size: size, now: now())
        return JSON.response(result)
    }

    func unreadCount(_ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let count = try await store.unreadCount(tenant: tenant, user: user, now: now())
        return JSON.response(UnreadCount(tenant: tenant, user: user, unread: count))
    }

    func readOne(_ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let id = try pathParameter(context, "id")
        return try await changed { try await store.markRead(tenant: tenant, user: user, ids: [id], now: now()) }
    }

    func readMany(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let body = try await collect(request, context)
        let ids: [String]
        do {
            ids = try JSONDecoder().decode(ReadRequest.self, from: Data(buffer: body)).ids
        } catch let error as DecodingError {
            throw APIError.badRequest("the body must be JSON like {\"ids\": [\"123\", \"n7\"]}: \(Self.explain(error))", code: "malformed_json")
        }
        guard !ids.isEmpty, ids.count <= 1000 else { throw APIError.badRequest("give 1 to 1000 ids in \"ids\"") }
        return try await changed { try await store.markRead(tenant: tenant, user: user, ids: ids, now: now()) }
    }

    func readAll(_ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        return try await changed { try await store.markAllRead(tenant: tenant, user: user, now: now()) }
    }

    func changed(_ work: () async throws -> Int) async throws -> Response {
        do {
            return JSON.response(["changed": try await work()])
        } catch let error as InboxError {
            throw APIError.notFound(error.message)
        }
    }

    func identity(_ context: HeraldRequestContext) throws -> (tenant: String, user: String) {
        let user = try pathParameter(context, "user")
        guard let tenant = context.access.tenant else { throw APIError.unauthorized("no client authenticated") }
        return (tenant, user)
    }
}

struct UnreadCount: Codable {
    var tenant: String
    var user: String
    var unread: Int
}

struct ReadRequest: Codable {
    var ids: [String]
}
