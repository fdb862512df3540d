#if canImport(Glibc)
import Glibc
#endif

/// What a `FrameLink` reports to the listener or dialer that owns it. Loop thread only,
/// from event handling (never from inside `enqueue`).
protocol FrameLinkOwner: AnyObject {
    /// TLS is complete; the owner verifies the peer and returns it, or nil to refuse
    /// (having closed the link with a reason).
    func linkDidBecomeActive(_ link: FrameLink) -> FramePeer?
    func link(_ link: FrameLink, didReceive frame: [UInt8])
    /// Closed for good; `peer` is nil when it never became a verified link.
    func link(_ link: FrameLink, didCloseWith error: (any Error)?, peer: FramePeer?)
}

/// One TLS connection carrying frames both ways. Loop thread only.
///
/// Output: `enqueue` appends frames to `output`, which is written to the connection once,
/// at the end of the current loop event, so frames sent in one event share one TLS write.
/// Input: every read goes through `decoder`; a `FrameError` closes the connection.
final class FrameLink: ConnectionDelegate {
    let id: UInt64
    let connection: Connection
    let remoteAddress: SocketAddress?
    private(set) var peer: FramePeer?
    private weak var owner: (any FrameLinkOwner)?
    private let statistics: FrameLinkStatistics
    private var decoder: FrameDecoder
    /// Decoded frames of one read, delivered before the next read. Reused.
    private var decoded: [[UInt8]] = []
    /// Encoded frames not yet given to the connection.
    /// Invariant: holds whole frames only; empty whenever `flushScheduled` is false.
    private var output: [UInt8] = []
    private var flushScheduled = false

    /// Capacity above which `output` is released after a flush (a multi-MB frame should
    /// not pin its buffer).
    static let outputRetainedBytesMax = 1024 * 1024

    init(id: UInt64, connection: Connection, remoteAddress: SocketAddress?, frameBytesMax: Int,
         owner: any FrameLinkOwner, statistics: FrameLinkStatistics) {
        self.id = id
        self.connection = connection
        self.remoteAddress = remoteAddress
        self.owner = owner
        self.statistics = statistics
        decoder = FrameDecoder(frameBytesMax: frameBytesMax)
        connection.delegate = self
    }

    /// Verified and not closed.
    var isUp: Bool { peer != nil && !connection.isClosed }

    /// Output the kernel has not taken yet, including frames of this event.
    var pendingBytes: Int { connection.pendingBytes + output.count }

    /// Whether a frame may be queued now: the link is up and pending output is under the
    /// high watermark.
    func canAccept(highWatermarkBytes: Int) -> Bool {
        isUp && connection.isWritable && pendingBytes < highWatermarkBytes
    }

    /// Queues one frame for the end of this event. The caller checked `canAccept`.
    func enqueue(_ frame: [UInt8]) {
        connection.loop.assertInEventLoop()
        FrameFormat.append(frame, to: &output)
        guard !flushScheduled else { return }
        flushScheduled = true
        connection.loop.deferToEndOfEvent { [self] in flush() }
    }

    private func flush() {
        flushScheduled = false
        guard !output.isEmpty else { return }
        if !connection.isClosed {
            output.withUnsafeBytes { connection.write($0) }
        }
        if output.capacity > Self.outputRetainedBytesMax { output = [] } else { output.removeAll(keepingCapacity: true) }
    }

    func close(_ error: (any Error)? = nil) { connection.close(error) }

    // MARK: ConnectionDelegate

    func connectionDidBecomeActive(_ connection: Connection) {
        peer = owner?.linkDidBecomeActive(self)
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        let error = decoder.feed(bytes, into: &decoded)
        defer { decoded.removeAll(keepingCapacity: decoded.capacity <= 4096) }
        // Frames before an error were sent whole and in order: deliver them first.
        for frame in decoded {
            guard isUp else { break }
            statistics.framesReceived.increment()
            statistics.bytesReceived.add(frame.count)
            owner?.link(self, didReceive: frame)
        }
        if let error { connection.close(error) }
    }

    func connectionDidReadEOF(_ connection: Connection) {
        // The peer is done sending: a link is two-way, so finish ours too.
        connection.shutdownWrite()
    }

    func connectionDidDrain(_ connection: Connection) {}

    func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
        output = []
        owner?.link(self, didCloseWith: error, peer: peer)
    }
}

extension FrameLink {
    /// The verified peer of an active TLS connection, or why it may not use a link:
    /// a certificate naming role `.node` (and `expectedName`, when given) is required.
    static func verifyPeer(of connection: Connection, id: UInt64, address: SocketAddress?, expectedName: String?)
        -> Result<FramePeer, LinkError>
    {
        guard let certificate = connection.tls?.peerCertificate else {
            return .failure(LinkError(.peerRefused, "peer presented no certificate (links need mutual TLS)"))
        }
        guard certificate.role == .node, let name = certificate.roleName else {
            let role = certificate.role?.rawValue ?? "none"
            return .failure(
                LinkError(.peerRefused, "peer certificate role \(role) is not accepted on a node link (needs node)"))
        }
        if let expectedName, expectedName != name {
            return .failure(
                LinkError(.peerRefused, "peer certificate names node \(name), expected node \(expectedName)"))
        }
        return .success(
            FramePeer(
                name: name, role: .node, certificateSerialHex: certificate.serialHex, address: address,
                connectionID: id))
    }

    /// The remote address of a connected socket (getpeername).
    static func remoteAddress(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        // Safe: getpeername wrote `length` valid bytes of a sockaddr into `storage`.
        return withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0), length: Int(length)) }
    }
}

/// A link-level failure: the peer's identity, or the link being stopped.
public struct LinkError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// TLS succeeded but the certificate may not use a node link (role or name).
        case peerRefused
        /// `stop()` was called.
        case stopped
        /// The peer's certificate was revoked after the link came up.
        case revoked
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
