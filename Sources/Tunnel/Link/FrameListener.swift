#if canImport(Glibc)
import Glibc
#endif

/// Accepts mutual-TLS node links on the peer port and delivers their frames.
///
/// Threading: everything runs on ONE event loop, the one given — the node's Raft loop —
/// and every method must be called there (create it inside `loop.execute`). Frames
/// therefore arrive on the thread that owns Raft: no hop, no lock, no queue between the
/// socket and `Raft.step`. The price is that TLS for all peer links is done on that
/// thread, which is small for a 3–5 node cluster (heartbeats and log batches); bulk
/// node-to-node traffic should use links on other loops. `statistics` is readable from
/// any thread.
///
/// Identity: each handshake takes `provider.current` (hot reload: live links keep the
/// context they started with). The context should require a client certificate and set
/// `acceptedPeerRoles = [.node]`; the listener checks again after the handshake and
/// refuses a peer whose certificate does not name a node.
public final class FrameListener {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        /// The peer port's address (port 0 picks one: read `port`).
        public var address: SocketAddress
        /// Server-side TLS; read for every new connection.
        public var tls: TLSContextProvider
        public var link: FrameLinkConfiguration

        public init(address: SocketAddress, tls: TLSContextProvider, link: FrameLinkConfiguration = .init()) {
            self.address = address
            self.tls = tls
            self.link = link
        }
    }

    public let loop: EventLoop
    public let configuration: Configuration
    /// The bound port.
    public let port: UInt16
    public let statistics = FrameLinkStatistics()
    private var listener: Listener?
    /// Open connections (handshaking or verified), by connection id.
    private var links: [UInt64: FrameLink] = [:]
    private var nextID: UInt64 = 1
    private let onFrame: ([UInt8], FramePeer) -> Void
    private let onPeerEvent: (FramePeerEvent) -> Void

    /// Binds and starts accepting. On `loop`'s thread only. `onFrame` gets each payload
    /// with the verified peer it came from, in the order that peer sent them;
    /// `onPeerEvent` gets connects, disconnects and refusals. Both run on `loop`.
    public init(
        _ configuration: Configuration, loop: EventLoop, onFrame: @escaping ([UInt8], FramePeer) -> Void,
        onPeerEvent: @escaping (FramePeerEvent) -> Void = { _ in }
    ) throws {
        precondition(loop.inEventLoop, "FrameListener must be created on its event loop's thread")
        self.loop = loop
        self.configuration = configuration
        self.onFrame = onFrame
        self.onPeerEvent = onPeerEvent
        var accept: (Int32) -> Void = { _ = Glibc.close($0) }
        let listener = try Listener(loop: loop, address: configuration.address, reusePort: false) { accept($0) }
        self.listener = listener
        port = listener.localAddress?.port ?? configuration.address.port
        accept = { [weak self] fd in
            guard let self else { _ = Glibc.close(fd); return }
            self.accept(fd)
        }
    }

    /// Verified links open now. Loop thread only.
    public var connectedPeers: [FramePeer] { links.values.compactMap { $0.isUp ? $0.peer : nil } }

    /// Closes the verified links whose peer `shouldClose` names (a certificate revoked
    /// after they came up: the handshake refuses it from then on). Loop thread only.
    public func closeLinks(where shouldClose: (FramePeer) -> Bool, reason: String) {
        loop.assertInEventLoop()
        for link in links.values {
            if let peer = link.peer, shouldClose(peer) { link.close(LinkError(.revoked, reason)) }
        }
    }

    /// Stops accepting and closes every link (each reports `.disconnected`). Loop thread
    /// only; idempotent.
    public func stop() {
        loop.assertInEventLoop()
        listener?.close()
        listener = nil
        for link in links.values { link.close(LinkError(.stopped, "peer listener on port \(port) stopped")) }
    }

    private func accept(_ fd: Int32) {
        let id = nextID
        nextID += 1
        let address = FrameLink.remoteAddress(of: fd)
        let connection: Connection
        do {
            connection = try Connection(
                loop: loop, acceptedFD: fd, tls: configuration.tls.current, limits: configuration.link.limits)
        } catch {
            _ = Glibc.close(fd)
            return refuse(address, "\(error)")
        }
        let link = FrameLink(
            id: id, connection: connection, remoteAddress: address, frameBytesMax: configuration.link.frameBytesMax,
            owner: self, statistics: statistics)
        links[id] = link
        // A failed start closes the connection; its close callback reports the refusal.
        do { try connection.start() } catch { link.close(error) }
    }

    private func refuse(_ address: SocketAddress?, _ reason: String) {
        statistics.refusals.increment()
        statistics.record(reason)
        onPeerEvent(.refused(address: address, reason: reason))
    }
}

extension FrameListener: FrameLinkOwner {
    func linkDidBecomeActive(_ link: FrameLink) -> FramePeer? {
        switch FrameLink.verifyPeer(of: link.connection, id: link.id, address: link.remoteAddress, expectedName: nil) {
        case .success(let peer):
            statistics.connects.increment()
            statistics.activeLinks.increment()
            onPeerEvent(.connected(peer))
            return peer
        case .failure(let error):
            link.close(error)
            return nil
        }
    }

    func link(_ link: FrameLink, didReceive frame: [UInt8]) {
        guard let peer = link.peer else { return }
        onFrame(frame, peer)
    }

    func link(_ link: FrameLink, didCloseWith error: (any Error)?, peer: FramePeer?) {
        links[link.id] = nil
        guard let peer else { return refuse(link.remoteAddress, error.map { "\($0)" } ?? "closed during handshake") }
        statistics.activeLinks.decrement()
        if let error { statistics.record("\(peer.name): \(error)") }
        onPeerEvent(.disconnected(peer, reason: error.map { "\($0)" }))
    }
}
