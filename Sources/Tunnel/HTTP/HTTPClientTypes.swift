/// A request for `HTTPClient`. A value type, safe to share between threads.
public struct HTTPClientRequest: Sendable {
    public var method: String
    /// The target: path and query, already percent-encoded (`/v1/audit?limit=20`).
    public var path: String
    /// Extra fields; the client adds `Host`, `Content-Length` and `User-Agent` unless present.
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String = "GET", path: String, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// A response received by `HTTPClient`. A value type, safe to share between threads.
public struct HTTPClientResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    /// The de-chunked body; empty for HEAD, 204, 304, and for the streaming `send`.
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why `HTTPClient.send` failed: the kind, and a message naming the server and the step.
///
/// A value; `Code` can grow: match the codes you handle.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The host name did not resolve.
        case resolve
        /// The TCP connection was refused or failed ("connect refused to HOST:PORT").
        case connect
        /// The TLS handshake or session failed ("TLS handshake: <reason>").
        case tls
        /// No progress within the client's timeout ("timeout after N ms …").
        case timeout
        /// A socket read or write failed, or the server closed mid-response.
        case io
        /// The server's bytes are not an HTTP/1.1 response the client understands.
        case malformedResponse
        /// The response head or (buffered) body exceeds the client's limits.
        case responseTooLarge
        /// The request cannot be sent as given (a target with spaces, a bad header name).
        case invalidRequest
        /// The HTTP CONNECT proxy refused the tunnel (407: it wants credentials) or
        /// answered something that is not HTTP.
        case proxy
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
