/// A blocking HTTP/1.1 client for the CLI and tests: one keep-alive connection to one
/// server, plain or TLS (with a client certificate when `tls` has one).
///
/// Threading: not thread-safe; use one client per thread. Every call blocks the calling
/// thread, each wait (connect, handshake, each read or write) for at most
/// `timeoutMillis`. It does not use the event loop.
///
/// Reuse: the connection stays open between calls unless the server says `Connection:
/// close` or delimits a body by closing; one the server closed while idle is noticed
/// before the next request (`isUnusable`) and replaced. When a request on a reused
/// connection still fails before any byte of a response (the server closed it just as
/// the request went out), it is sent once more on a new connection only when that is
/// safe (RFC 9112 §9.3.1):
/// - the request never left completely (the write failed: no server acted on half a request);
/// - the server closed cleanly, with TLS close_notify (plain HTTP has no such signal) — Warren's server does that between
///   requests only and reads nothing after it (`HTTPServerConnection`), so the request
///   was not read;
/// - the method is safe (GET, HEAD, OPTIONS).
/// Otherwise — a POST or DELETE met by a reset or a bare FIN, as when a node stops or a
/// load balancer cuts the connection — the request may have been acted on, and the error
/// (`.io`, "connection closed before a response") is the caller's to judge: retrying it
/// blindly could apply a change twice.
public final class HTTPClient {
    public let host: String
    public let port: UInt16
    public let serverName: String?
    public let timeoutMillis: Int
    /// Largest body `send(_:)` buffers; larger → `.responseTooLarge` (use the streaming
    /// `send(_:onBodyChunk:)` for downloads).
    public var responseBodyBytesMax = 64 * 1024 * 1024
    /// Largest response head (status line and fields).
    public var responseHeadBytesMax = 64 * 1024
    /// An HTTP CONNECT proxy every connection goes through (nil: direct).
    public var proxy: HTTPConnectProxy?
    /// Connections opened so far (1 after many requests on one kept-alive connection).
    public private(set) var connectionsOpened = 0

    private let tls: TLSContext?
    private var transport: HTTPClientTransport?
    private var reader = HTTPClientReader()

    /// A client for `host:port`; nothing is connected until the first `send`. With
    /// `tls`, the server's certificate is checked against `serverName` (default `host`).
    public init(host: String, port: UInt16, tls: TLSContext? = nil, serverName: String? = nil,
                timeoutMillis: Int = 10_000) {
        precondition(timeoutMillis > 0, "timeoutMillis must be positive")
        self.host = host
        self.port = port
        self.tls = tls
        self.serverName = serverName ?? host
        self.timeoutMillis = timeoutMillis
    }

    /// `HOST:PORT` (`[V6]:PORT`) for messages.
    public var peer: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Sends `request` and returns the whole response.
    public func send(_ request: HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse {
        var body: [UInt8] = []
        let limit = responseBodyBytesMax
        let peer = peer
        var response = try exchange(request) { (chunk) throws(HTTPClientError) in
            guard body.count + chunk.count <= limit else {
                throw HTTPClientError(.responseTooLarge, "response body from \(peer) exceeds \(limit) bytes")
            }
            body += chunk
        }
        response.body = body
        return response
    }

    /// Sends `request` and hands the body to `onBodyChunk` piece by piece as it arrives
    /// (for downloads of any size); the returned response has an empty `body`.
    public func send(_ request: HTTPClientRequest, onBodyChunk: ([UInt8]) -> Void) throws(HTTPClientError)
        -> HTTPClientResponse
    {
        try exchange(request) { (chunk) throws(HTTPClientError) in onBodyChunk(chunk) }
    }

    /// Closes the kept-alive connection, if any.
    /// The server certificate of the open connection (TLS only), e.g. to see which serial
    /// a node presents after a certificate reload.
    public var peerCertificate: Certificate? { transport?.tls?.peerCertificate }

    public func close() {
        transport?.close()
        transport = nil
        reader = HTTPClientReader()
    }

    // MARK: one exchange

    private func exchange(_ request: HTTPClientRequest, body: ([UInt8]) throws(HTTPClientError) -> Void)
        throws(HTTPClientError) -> HTTPClientResponse
    {
        let head = try serializedHead(request)
        if let transport, transport.isUnusable { close() }
        let reused = transport != nil
        do {
            return try attempt(head, request, body: body)
        } catch let error where reused && lastFailure.allowsResend(request.method) {
            _ = error  // the server closed the kept-alive connection as we sent: once more
            return try attempt(head, request, body: body)
        }
    }

    /// How the last attempt failed, as far as resending is concerned.
    enum FailureKind: Equatable {
        /// Not a failure a resend could mend (a response began, a timeout, bad input…).
        case other
        /// The request's last byte never reached the kernel: no server saw all of it.
        case notSent
        /// No response byte, and the server's close_notify arrived: it closed cleanly
        /// without reading the request (Warren's server's promise).
        case closedCleanly
        /// No response byte, and the connection ended without close_notify (reset, bare
        /// FIN): the server may have read and acted on the request.
        case closedAbruptly

        /// Whether a request with `method` may be sent again after this failure.
        func allowsResend(_ method: String) -> Bool {
            switch self {
            case .notSent, .closedCleanly: true
            case .closedAbruptly: HTTPClient.safeMethods.contains(method)
            case .other: false
            }
        }
    }

    /// Methods that change nothing on the server (RFC 9110 §9.2.1), resent after any close.
    static let safeMethods: Set<String> = ["GET", "HEAD", "OPTIONS"]

    /// Set by `attempt`.
    private(set) var lastFailure = FailureKind.other

    private func attempt(_ head: [UInt8], _ request: HTTPClientRequest,
                         body: ([UInt8]) throws(HTTPClientError) -> Void) throws(HTTPClientError)
        -> HTTPClientResponse
    {
        lastFailure = .other
        let transport = try connected()
        do {
            try transport.write(head + request.body)
        } catch {
            lastFailure = .notSent
            close()
            throw error
        }
        do {
            let result = try reader.readResponse(
                from: transport, isHead: request.method == "HEAD", headBytesMax: responseHeadBytesMax, body: body)
            if !result.keepAlive { close() }
            return result.response
        } catch {
            if error.code == .io && !reader.sawResponseBytes {
                lastFailure = transport.receivedCloseNotify ? .closedCleanly : .closedAbruptly
            }
            close()
            throw error
        }
    }

    private func connected() throws(HTTPClientError) -> HTTPClientTransport {
        if let transport { return transport }
        // Through a proxy the proxy resolves the name (the client may have no DNS for it).
        var address: SocketAddress?
        if proxy == nil {
            do { address = try SocketAddress(parsing: peer) } catch {
                throw HTTPClientError(.resolve, "cannot resolve \(peer): \(error.message)")
            }
        }
        let made = try HTTPClientTransport(
            address: address, peer: peer, tls: tls, serverName: serverName, timeoutMillis: Int32(timeoutMillis),
            proxy: proxy)
        transport = made
        reader = HTTPClientReader()
        connectionsOpened += 1
        return made
    }

    private func serializedHead(_ request: HTTPClientRequest) throws(HTTPClientError) -> [UInt8] {
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(HTTPWire.isTokenByte) else {
            throw HTTPClientError(.invalidRequest, "method '\(request.method)' is not a token")
        }
        guard request.path.hasPrefix("/"), request.path.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw HTTPClientError(
                .invalidRequest, "path '\(request.path)' must start with / and be percent-encoded (no spaces)")
        }
        if let bad = request.headers.first(where: { $0.name.isEmpty || !$0.name.utf8.allSatisfy(HTTPWire.isTokenByte) }) {
            throw HTTPClientError(.invalidRequest, "header name '\(bad.name)' is not a token")
        }
        var out = Array("\(request.method) \(request.path) HTTP/1.1\r\n".utf8)
        var headers = request.headers
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        if !headers.contains("host") { out += Array("Host: \(peer)\r\n".utf8) }
        if !headers.contains("user-agent") { out += Array("User-Agent: warren/\(TunnelModule.version)\r\n".utf8) }
        for field in headers { HTTPWire.appendField(field.name, field.value, to: &out) }
        let needsLength = !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method)
        if needsLength { out += Array("Content-Length: \(request.body.count)\r\n".utf8) }
        out += HTTPWire.crlf
        return out
    }
}
