/// Limits and timeouts of one WebSocket endpoint. Every buffer and wait has a bound.
///
/// A value type, safe to share between threads.
public struct WebSocketConfiguration: Sendable {
    /// What to do with a text message (Warren speaks binary only).
    public enum TextMessages: Sendable, Equatable {
        /// Fail the connection with 1003 (unsupported data). The default.
        case refuse
        /// Check it is UTF-8 (else 1007) and deliver its bytes to `onMessage` like a binary one.
        case deliverAsBytes
    }

    /// Largest frame the peer may send (its announced length). Larger → close 1009.
    public var frameBytesMax: Int
    /// Largest message the peer may send, fragments added up. Larger → close 1009.
    public var messageBytesMax: Int
    /// Outgoing messages are cut into frames of at most this many payload bytes.
    public var outboundFrameBytesMax: Int
    /// Text messages: refused (1003) or delivered as bytes.
    public var textMessages: TextMessages
    /// After a Close is sent (or the connection failed), how long to wait for the peer's
    /// Close and the end of the TCP stream before closing the socket regardless.
    public var closeTimeoutNanos: UInt64
    /// Pings awaiting their Pong, at most; `ping` refuses more.
    public var pingsOutstandingMax: Int
    /// Client only: after TCP connect and TLS, how long the server may take to answer
    /// the upgrade request.
    public var upgradeTimeoutNanos: UInt64
    /// Client only: largest response head to the upgrade request.
    public var responseHeadBytesMax: Int
    /// Client only: watermarks, connect + TLS timeout and no-traffic timeout of the
    /// connection (a server-side channel keeps its HTTP server's).
    public var connectionLimits: ConnectionLimits

    /// Defaults: 16 MiB frames and messages, 1 MiB outgoing frames, text refused, 5 s
    /// close timeout, 16 outstanding pings, 10 s for the upgrade answer, 16 KiB head.
    public init(
        frameBytesMax: Int = 16 * 1024 * 1024, messageBytesMax: Int = 16 * 1024 * 1024,
        outboundFrameBytesMax: Int = 1024 * 1024, textMessages: TextMessages = .refuse,
        closeTimeoutNanos: UInt64 = 5_000_000_000, pingsOutstandingMax: Int = 16,
        upgradeTimeoutNanos: UInt64 = 10_000_000_000, responseHeadBytesMax: Int = 16 * 1024,
        connectionLimits: ConnectionLimits = .init()
    ) {
        precondition(frameBytesMax >= 125, "frameBytesMax must admit control frames (125 bytes)")
        precondition(messageBytesMax >= 0 && outboundFrameBytesMax > 0 && pingsOutstandingMax > 0)
        precondition(responseHeadBytesMax > 0)
        self.frameBytesMax = frameBytesMax
        self.messageBytesMax = messageBytesMax
        self.outboundFrameBytesMax = outboundFrameBytesMax
        self.textMessages = textMessages
        self.closeTimeoutNanos = closeTimeoutNanos
        self.pingsOutstandingMax = pingsOutstandingMax
        self.upgradeTimeoutNanos = upgradeTimeoutNanos
        self.responseHeadBytesMax = responseHeadBytesMax
        self.connectionLimits = connectionLimits
    }
}
