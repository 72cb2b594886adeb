import Foundation
import HeraldInbox
import Hummingbird

/// An error answered as JSON: `{"error":{"code":"forbidden","message":"…"}}` with its status.
///
/// ```swift
/// throw APIError.forbidden("client 'shop' may not read tenant 7")
/// ```
public struct APIError: Error, HTTPResponseError, Sendable {
    /// The HTTP status answered.
    public let status: HTTPResponse.Status
    /// A stable, machine-readable code.
    public let code: String
    /// What went wrong and what to do, for the developer reading the response.
    public let message: String
    /// Extra response headers (`WWW-Authenticate` on 401).
    public var headers: HTTPFields = [:]

    /// Creates an error answered with `status`.
    public init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 400: a parameter, header or body is malformed.
    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(status: .badRequest, code: code, message: message)
    }

    /// 401 with `WWW-Authenticate: Bearer realm="herald"`.
    public static func unauthorized(_ message: String) -> APIError {
        var error = APIError(status: .unauthorized, code: "unauthorized", message: message)
        error.headers[.wwwAuthenticate] = #"Bearer realm="herald""#
        return error
    }

    /// 403: authenticated, but not for this tenant.
    public static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, code: "forbidden", message: message)
    }

    /// 404: no such item or endpoint.
    public static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: message)
    }

    /// The JSON body and headers of the error.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = JSON.encode(["error": ["code": code, "message": message]])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// JSON encoding for responses: the same as `herald inbox --json`, on one line.
enum JSON {
    static func encode(_ value: some Encodable) -> String {
        (try? JSONEncoder.inbox().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: encode(value))))
    }
}
