/// A violation of RFC 6455 by the peer, as found by `WebSocketFrameDecoder`: a value,
/// not a throw. The channel answers it with a Close frame carrying `closeCode` and
/// closes the connection (§7.1.7, "Fail the WebSocket Connection").
///
/// A value type, safe to share between threads.
public struct WebSocketProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1002 (framing), 1007 (not UTF-8) or 1009 (over a size limit).
    public var closeCode: WebSocketCloseCode
    /// What was wrong, with the offending value (safe to send as the close reason).
    public var message: String

    public init(_ closeCode: WebSocketCloseCode, _ message: String) {
        self.closeCode = closeCode
        self.message = message
    }

    public var description: String { "\(message) (close \(closeCode))" }
}

/// A failure to open a WebSocket as a client (`WebSocketClient.connect`). `Code` can grow.
///
/// A value type, safe to share between threads.
public struct WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// TCP connect failed or the connection broke before the upgrade finished.
        case connect
        /// The TLS handshake failed (untrusted server, certificate refused, wrong name).
        case tls
        /// Connect, TLS or the upgrade response did not finish in time.
        case timeout
        /// The server answered the upgrade with a status other than 101 (see `status`).
        case refused
        /// The server's 101 response broke RFC 6455 §4.1 (accept value, headers, protocol).
        case badResponse
    }

    public var code: Code
    /// What failed, against which address, and why.
    public var message: String
    /// The HTTP status of a refused upgrade.
    public var status: HTTPStatus?
    /// The `Location` field of a refused upgrade, when it had one (a redirect).
    public var location: String?

    public init(_ code: Code, _ message: String, status: HTTPStatus? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "\(message) (\(code.rawValue))" }
}
