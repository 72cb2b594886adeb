import CCurl
import CLibcurl
import Foundation

/// What an HTTP exchange returned, or why there was none.
public struct HTTPResponse: Sendable, Hashable {
    /// The status code, 0 when no response arrived.
    public var status: Int
    /// The body.
    public var body: Data
    /// libcurl's result code (0 = the exchange completed, whatever the status).
    public var curlCode: Int
    /// libcurl's explanation when `curlCode` is not 0.
    public var error: String
}

/// HTTP POST over one libcurl easy handle, reused so the connection stays open between
/// requests. One request at a time: the SMS providers keep a handle per worker.
///
/// `@unchecked Sendable`: a libcurl handle (raw pointers), used by one request at a time under its lock.
public final class HTTPClient: @unchecked Sendable {
    private static let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// Creates a client; nil when libcurl cannot make a handle.
    public init?(timeout: Duration = .seconds(15)) {
        guard Self.curlReady, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let seconds = max(1, Int(timeout.components.seconds))
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, seconds)
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT, seconds)
        ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        ccurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, httpWriteCallback)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// POSTs `body` to `url` with `headers`; blocks until the response or a failure.
    public func post(_ url: String, headers: [String: String], body: Data) -> HTTPResponse {
        perform(url, headers: headers, body: body)
    }

    /// GETs `url` with `headers`; blocks until the response or a failure.
    public func get(_ url: String, headers: [String: String] = [:]) -> HTTPResponse {
        perform(url, headers: headers, body: nil)
    }

    /// One request: a POST of `body`, or a GET when it is nil.
    private func perform(_ url: String, headers: [String: String], body: Data?) -> HTTPResponse {
        lock.withLock {
            let sink = ResponseBody()
            var list: UnsafeMutablePointer<curl_slist>?
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) { list = curl_slist_append(list, "\(name): \(value)") }
            list = curl_slist_append(list, "Expect:")
            defer { curl_slist_free_all(list) }
            errorBuffer[0] = 0
            ccurl_setopt_string(handle, CURLOPT_URL, url)
            ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
            guard let body else {
                ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1)
                let code = withExtendedLifetime(sink) {
                    ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                    return curl_easy_perform(handle)
                }
                return response(code, sink)
            }
            ccurl_setopt_long(handle, CURLOPT_POST, 1)
            let code = body.withUnsafeBytes { raw -> CURLcode in
                ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, raw.count)
                ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(errorBuffer)))
                return withExtendedLifetime(sink) {
                    ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                    return curl_easy_perform(handle)
                }
            }
            return response(code, sink)
        }
    }

    private func response(_ code: CURLcode, _ sink: ResponseBody) -> HTTPResponse {
        var status = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let detail = String(cString: errorBuffer)
        return HTTPResponse(status: status, body: sink.data, curlCode: Int(code.rawValue),
                            error: code == CURLE_OK ? "" : (detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail))
    }
}

private final class ResponseBody {
    var data = Data()
}

private let httpWriteCallback: ccurl_data_callback = { buffer, size, count, context in
    let length = size * count
    guard let buffer, let context else { return length }
    Unmanaged<ResponseBody>.fromOpaque(context).takeUnretainedValue().data.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: length)
    return length
}
