public import Synchronization

/// Who is at the other end of a verified link: facts from its certificate (checked by
/// TLS against the cluster CA, then for role `.node`) and its address.
public struct FramePeer: Sendable, Hashable, CustomStringConvertible {
    /// The NAME of the certificate's `warren://node/NAME` URI SAN: the node id ("n2").
    public let name: String
    /// The certificate's role; always `.node` on links.
    public let role: CertificateRole
    /// The certificate's serial (upper-case hex), for revocation checks and logs.
    public let certificateSerialHex: String
    /// The TCP peer's address, when the kernel still knows it.
    public let address: SocketAddress?
    /// This connection's number, unique per listener or dialer: pairs `.connected` with
    /// its `.disconnected` when a peer reconnects.
    public let connectionID: UInt64

    public init(
        name: String, role: CertificateRole, certificateSerialHex: String, address: SocketAddress?,
        connectionID: UInt64
    ) {
        self.name = name
        self.role = role
        self.certificateSerialHex = certificateSerialHex
        self.address = address
        self.connectionID = connectionID
    }

    public var description: String {
        "\(role.rawValue)/\(name) at \(address?.description ?? "?") (#\(connectionID))"
    }
}

/// What happened to a link, for logs and metrics. Delivered on the link's loop.
public enum FramePeerEvent: Sendable, CustomStringConvertible {
    /// TLS completed and the peer's certificate names a node (and, for a dialer, the
    /// expected one).
    case connected(FramePeer)
    /// A verified link closed; `reason` is nil for an orderly close.
    case disconnected(FramePeer, reason: String?)
    /// A connection closed before it became a verified link: connect or TLS failure,
    /// wrong role or name, handshake timeout.
    case refused(address: SocketAddress?, reason: String)

    public var description: String {
        switch self {
        case .connected(let peer): "link up: \(peer)"
        case .disconnected(let peer, let reason): "link down: \(peer)\(reason.map { ": \($0)" } ?? "")"
        case .refused(let address, let reason): "link refused (\(address?.description ?? "?")): \(reason)"
        }
    }
}

/// Counters of a listener or dialer. Written on its loop, readable from any thread.
public final class FrameLinkStatistics: Sendable {
    /// Frames handed to a connection (written or queued for the kernel).
    public let framesSent = AtomicCounter()
    /// Frames `send` refused: not connected, above the high watermark, over-size, or
    /// queued while connecting and then lost.
    public let framesDropped = AtomicCounter()
    /// Complete frames delivered to `onFrame`.
    public let framesReceived = AtomicCounter()
    /// Payload bytes delivered to `onFrame`.
    public let bytesReceived = AtomicCounter()
    /// Connections that became verified links.
    public let connects = AtomicCounter()
    /// Connections closed before becoming a link (TLS failure, wrong role or name).
    public let refusals = AtomicCounter()
    /// Dialer: connection attempts after the first one.
    public let reconnects = AtomicCounter()
    /// Verified links open now (a dialer: 0 or 1).
    public let activeLinks = AtomicCounter()
    /// The last failure, as one line, or nil.
    public let lastError = Mutex<String?>(nil)

    public init() {}

    /// Dialer: whether its link is up now.
    public var isConnected: Bool { activeLinks.load > 0 }

    func record(_ error: String) { lastError.withLock { $0 = error } }
}
