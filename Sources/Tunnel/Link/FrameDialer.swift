/// Keeps one outbound mutual-TLS link to one peer node and sends frames over it.
///
/// Threading: like `FrameListener`, everything runs on the one loop given (the node's
/// Raft loop); create it, `send` and `stop` there. `statistics` is readable anywhere.
///
/// Delivery is best effort, in order per connection: `send` hands a frame to the current
/// connection or drops it (returns false) — when no link is up, when pending output is
/// at the high watermark, or when the frame is over `frameBytesMax`. A frame accepted
/// may still be lost if the connection then breaks. Raft tolerates exactly this
/// (it retransmits on the next heartbeat or append), so the link never buffers for
/// long or retries on its own. Frames sent within one loop event are coalesced into one
/// write at the end of the event.
///
/// Reconnects: after a failed attempt or a closed link the dialer waits a jittered
/// exponential delay (`ReconnectBackoff`, 20 ms doubling to 1 s by default) and dials
/// again, until `stop()`. The delay resets once a link stayed up for `backoff.maxNanos`.
/// Each attempt takes `provider.current`, so certificate renewal applies at the next dial.
///
/// Identity: the server must present a certificate that chains to the CA, matches
/// `serverName` (DNS or IP SAN), names role `.node`, and, when `expectedPeerName` is set,
/// that node id.
public final class FrameDialer {
    public struct Configuration: Sendable {
        /// The peer's peer-port address.
        public var address: SocketAddress
        /// Name checked against the server certificate's DNS or IP SANs (and sent as SNI);
        /// nil uses `address.host`.
        public var serverName: String?
        /// The node id the server's certificate must name (`warren://node/NAME`), or nil
        /// to accept any node.
        public var expectedPeerName: String?
        /// Client-side TLS (with this node's certificate); read at every dial.
        public var tls: TLSContextProvider
        public var link: FrameLinkConfiguration
        public var backoff: ReconnectBackoff
        /// Frames held while a connection is being set up, sent once it is verified;
        /// 0 (the default) drops them instead. Held frames still count against nothing
        /// else, so keep this small.
        public var connectQueueFramesMax: Int
        /// Seed for the reconnect jitter; nil draws from the system generator.
        public var jitterSeed: UInt64?

        public init(
            address: SocketAddress, serverName: String? = nil, expectedPeerName: String? = nil,
            tls: TLSContextProvider, link: FrameLinkConfiguration = .init(), backoff: ReconnectBackoff = .init(),
            connectQueueFramesMax: Int = 0, jitterSeed: UInt64? = nil
        ) {
            precondition(connectQueueFramesMax >= 0, "connectQueueFramesMax must be ≥ 0")
            self.address = address
            self.serverName = serverName
            self.expectedPeerName = expectedPeerName
            self.tls = tls
            self.link = link
            self.backoff = backoff
            self.connectQueueFramesMax = connectQueueFramesMax
            self.jitterSeed = jitterSeed
        }
    }

    public let loop: EventLoop
    public let configuration: Configuration
    public let statistics = FrameLinkStatistics()
    private let onFrame: ([UInt8], FramePeer) -> Void
    private let onPeerEvent: (FramePeerEvent) -> Void

    /// The current connection (connecting, handshaking or up), or nil while waiting to redial.
    /// Invariant: at most one at a time; nil after `stop()`.
    private var link: FrameLink?
    private var redialTimer: TimerHandle?
    private var backoff: ReconnectBackoff
    private var random: SplitMix64
    private var nextID: UInt64 = 1
    private var attempts = 0
    private var upSinceNanos: UInt64?
    private var stopped = false
    /// Frames accepted while connecting. Invariant: count ≤ `connectQueueFramesMax`.
    private var connectQueue: [[UInt8]] = []

    /// Starts dialing at once. On `loop`'s thread only. `onFrame` gets frames the server
    /// sends back on this link (the peer port sends none today); `onPeerEvent` gets
    /// connects, disconnects and refused attempts. Both run on `loop`.
    public init(
        _ configuration: Configuration, loop: EventLoop, onFrame: @escaping ([UInt8], FramePeer) -> Void = { _, _ in },
        onPeerEvent: @escaping (FramePeerEvent) -> Void = { _ in }
    ) {
        precondition(loop.inEventLoop, "FrameDialer must be created on its event loop's thread")
        self.loop = loop
        self.configuration = configuration
        self.onFrame = onFrame
        self.onPeerEvent = onPeerEvent
        backoff = configuration.backoff
        random = SplitMix64(seed: configuration.jitterSeed ?? UInt64.random(in: 0...UInt64.max))
        dial()
    }

    /// Whether a verified link is up now. Loop thread only (`statistics.isConnected` anywhere).
    public var isConnected: Bool { link?.isUp ?? false }

    /// The server of the current link, when it is up. Loop thread only.
    public var peer: FramePeer? { link?.isUp == true ? link?.peer : nil }

    /// Sends `frame` (1 … `frameBytesMax` bytes) best effort; returns false, counting a
    /// drop, when it was not accepted (see the type's comment). Loop thread only.
    @discardableResult
    public func send(_ frame: [UInt8]) -> Bool {
        loop.assertInEventLoop()
        precondition(!frame.isEmpty, "a frame needs at least one payload byte")
        guard !stopped, frame.count <= configuration.link.frameBytesMax else {
            if !stopped {
                statistics.record("dropped a frame of \(frame.count) bytes: over frameBytesMax \(configuration.link.frameBytesMax)")
            }
            return drop()
        }
        guard let link, !link.connection.isClosed else { return drop() }
        if link.peer != nil {
            guard link.canAccept(highWatermarkBytes: configuration.link.limits.highWatermarkBytes) else { return drop() }
            link.enqueue(frame)
            statistics.framesSent.increment()
            return true
        }
        guard connectQueue.count < configuration.connectQueueFramesMax else { return drop() }
        connectQueue.append(frame)
        return true
    }

    /// Closes the current link if `shouldClose` names its peer (its certificate was
    /// revoked); the dialer redials as after any loss, and the new handshake decides.
    /// Loop thread only.
    public func closeLink(if shouldClose: (FramePeer) -> Bool, reason: String) {
        loop.assertInEventLoop()
        if let link, let peer = link.peer, shouldClose(peer) { link.close(LinkError(.revoked, reason)) }
    }

    /// Closes the link and stops redialing, for good. Loop thread only; idempotent.
    public func stop() {
        loop.assertInEventLoop()
        guard !stopped else { return }
        stopped = true
        redialTimer?.cancel()
        redialTimer = nil
        dropConnectQueue()
        link?.close(LinkError(.stopped, "link to \(configuration.address) stopped"))
    }

    private func drop() -> Bool {
        statistics.framesDropped.increment()
        return false
    }

    private func dropConnectQueue() {
        statistics.framesDropped.add(connectQueue.count)
        connectQueue.removeAll()
    }

    private func dial() {
        guard !stopped else { return }
        if attempts > 0 { statistics.reconnects.increment() }
        attempts += 1
        let id = nextID
        nextID += 1
        do {
            let connection = try Connection(
                loop: loop, connectTo: configuration.address, tls: configuration.tls.current,
                serverName: configuration.serverName ?? configuration.address.host, limits: configuration.link.limits)
            let link = FrameLink(
                id: id, connection: connection, remoteAddress: configuration.address,
                frameBytesMax: configuration.link.frameBytesMax, owner: self, statistics: statistics)
            self.link = link
            do { try connection.start() } catch { link.close(error) }  // reported by the close callback
        } catch {
            attemptFailed(reason: "\(error)")
        }
    }

    private func attemptFailed(reason: String) {
        statistics.refusals.increment()
        statistics.record(reason)
        onPeerEvent(.refused(address: configuration.address, reason: reason))
        scheduleRedial()
    }

    private func scheduleRedial() {
        link = nil
        dropConnectQueue()
        guard !stopped else { return }
        if let upSinceNanos, MonotonicClock.nowNanos() &- upSinceNanos >= backoff.maxNanos { backoff.reset() }
        upSinceNanos = nil
        let delay = backoff.nextDelayNanos(unit: random.nextUnit())
        redialTimer = loop.schedule(afterNanos: delay) { [weak self] in
            guard let self else { return }
            self.redialTimer = nil
            self.dial()
        }
    }
}

extension FrameDialer: FrameLinkOwner {
    func linkDidBecomeActive(_ link: FrameLink) -> FramePeer? {
        let verified = FrameLink.verifyPeer(
            of: link.connection, id: link.id, address: link.remoteAddress,
            expectedName: configuration.expectedPeerName)
        switch verified {
        case .success(let peer):
            upSinceNanos = MonotonicClock.nowNanos()
            statistics.connects.increment()
            statistics.activeLinks.increment()
            onPeerEvent(.connected(peer))
            // `peer` is set by the caller after we return: flush the held frames at the
            // end of this event, when the link is up.
            if !connectQueue.isEmpty {
                loop.deferToEndOfEvent { [weak self] in self?.flushConnectQueue() }
            }
            return peer
        case .failure(let error):
            link.close(error)
            return nil
        }
    }

    private func flushConnectQueue() {
        let held = connectQueue
        connectQueue.removeAll()
        for frame in held { send(frame) }
    }

    func link(_ link: FrameLink, didReceive frame: [UInt8]) {
        guard let peer = link.peer else { return }
        onFrame(frame, peer)
    }

    func link(_ link: FrameLink, didCloseWith error: (any Error)?, peer: FramePeer?) {
        guard link === self.link else { return }
        guard let peer else {
            return attemptFailed(reason: error.map { "\($0)" } ?? "closed before the TLS handshake completed")
        }
        statistics.activeLinks.decrement()
        // An orderly close the dialer did not ask for is still worth a line.
        statistics.record(error.map { "\($0)" } ?? "link to \(peer.name) closed by the peer")
        onPeerEvent(.disconnected(peer, reason: error.map { "\($0)" }))
        scheduleRedial()
    }
}

/// SplitMix64: a tiny seeded generator for jitter, so a test can fix the delays.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
