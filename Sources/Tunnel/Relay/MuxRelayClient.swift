#if canImport(Glibc)
import Glibc
#endif
public import Synchronization

/// The plain side of a multiplexed relay: accepts plain TCP on `listen` and carries every
/// connection as a mux stream over a long-lived mutual-TLS WebSocket link to a
/// `MuxRelayServer`, which dials the target. A new connection costs a stream OPEN, not a
/// TLS handshake — ssh -L's shape.
///
/// Threading: one listener and one link per loop. A connection accepted on loop i is
/// carried on loop i's link (no thread hop); the link, its streams' sockets and the slot
/// state below live on that loop. Each link is dialled at start and again after it
/// drops (backoff 50 ms doubling to 2 s while dials fail); connections accepted while a
/// loop's link is down wait for it (at most `pendingMax` per loop, each bounded by the
/// link's handshake timeout) and are closed if the dial fails.
public final class MuxRelayClient: Sendable {
    /// Counters readable from any thread.
    public final class Statistics: Sendable {
        /// Connections accepted on the plain side.
        public let accepted = AtomicCounter()
        /// Links established (more than the loop count means some reconnected).
        public let linksUp = AtomicCounter()
        /// Links up now (one per loop when all is well).
        public let liveLinks = AtomicCounter()
        /// Link dials that failed.
        public let linkFailures = AtomicCounter()
        /// Streams that carried bytes / ended / never got going.
        public let streamsOpened = AtomicCounter()
        public let streamsClosed = AtomicCounter()
        public let streamsRefused = AtomicCounter()
        /// The last link failure or loss, for logs.
        public let lastError = Mutex<String?>(nil)
        init() {}
    }

    /// Where the links go and how.
    public struct Configuration: Sendable {
        public var listen: SocketAddress
        /// The server relay (`warren relay --mux --tls-server`).
        public var server: SocketAddress
        /// Name the server's certificate must carry (default: the server's host).
        public var serverName: String?
        public var tls: TLSContextProvider
        /// Watermarks and timeouts of the relayed sockets.
        public var streamLimits: ConnectionLimits
        /// Connections waiting per loop while its link is down; more are closed at once.
        public var pendingMax: Int

        public init(listen: SocketAddress, server: SocketAddress, serverName: String? = nil, tls: TLSContextProvider,
                    streamLimits: ConnectionLimits = .init(), pendingMax: Int = 4096) {
            self.listen = listen
            self.server = server
            self.serverName = serverName
            self.tls = tls
            self.streamLimits = streamLimits
            self.pendingMax = pendingMax
        }
    }

    public let configuration: Configuration
    public let statistics = Statistics()
    /// The bound port (the one picked when `listen` asked for port 0).
    public let port: UInt16
    private let group: EventLoopGroup
    /// Slot i lives on group.loops[i] (the array is immutable).
    private let slots: [LinkSlot]

    /// Binds `listen` on every loop and dials one link per loop. Call off the loops.
    public init(_ configuration: Configuration, group: EventLoopGroup) throws {
        self.configuration = configuration
        self.group = group
        let slots = group.loops.map { LinkSlot(loop: $0) }
        self.slots = slots
        var address = configuration.listen
        var boundPort: UInt16 = 0
        for (i, loop) in group.loops.enumerated() {
            let slot = slots[i]
            let local = try Relay.onLoop(loop) { [configuration, statistics] () throws -> SocketAddress? in
                slot.configuration = configuration
                slot.statistics = statistics
                slot.listener = try Listener(loop: loop, address: address, reusePort: true) { fd in slot.accepted(fd) }
                slot.dial()
                return slot.listener?.localAddress
            }
            if i == 0, let local {
                // Port 0 picked a port: the other loops' listeners must share that one.
                boundPort = local.port
                address = local
            }
        }
        port = boundPort
    }

    /// Ends loop `index`'s link now, as a dropped TLS connection would (its streams end;
    /// the link is dialled again). For tests and debugging.
    public func dropLink(_ index: Int) {
        let slot = slots[index]
        group.loops[index].execute { slot.bridge?.close(reason: "link dropped on request") }
    }

    /// Stops accepting and ends every link (their streams' sockets close). Call off the loops.
    public func stop() {
        for (i, loop) in group.loops.enumerated() {
            _ = try? Relay.onLoop(loop) { [slots] in slots[i].stop() }
        }
    }
}

/// One loop's listener, link and waiting connections. Loop thread only.
// Safe: every stored property is touched only on `loop`'s thread (the WebSocket dial's
// completion, the listener's accepts, the bridge's callbacks and the timers all run there).
final class LinkSlot: @unchecked Sendable {
    let loop: EventLoop
    var configuration: MuxRelayClient.Configuration!
    var statistics: MuxRelayClient.Statistics!
    var listener: Listener?
    /// The live link (nil while down or dialling).
    var bridge: MuxBridge?
    var dialling = false
    var stopped = false
    /// Accepted sockets waiting for the link. Invariant: empty while `bridge` is set.
    var pending: [(fd: Int32, remote: String)] = []
    /// Delays between failed dials: 50 ms doubling to 2 s (no jitter: one link per loop).
    var backoff = ReconnectBackoff(initialNanos: 50_000_000, maxNanos: 2_000_000_000)
    /// Dials of this link the server asked to repeat on another of its loops (reset when
    /// a link comes up or fails otherwise).
    var attempt = 0
    var retry: TimerHandle?

    init(loop: EventLoop) { self.loop = loop }

    func accepted(_ fd: Int32) {
        statistics.accepted.increment()
        let remote = StreamListener.peerAddress(fd)
        if let bridge { return bridge.carry(acceptedFD: fd, descriptor: [], remoteAddress: remote) }
        guard pending.count < configuration.pendingMax else {
            statistics.streamsRefused.increment()
            _ = Glibc.close(fd)
            return
        }
        pending.append((fd, remote))
        if !dialling && retry == nil { dial() }
    }

    func dial() {
        guard !stopped, !dialling, bridge == nil else { return }
        dialling = true
        retry = nil
        let configuration = configuration!
        WebSocketClient.connect(
            loop: loop, address: configuration.server, tls: configuration.tls.current,
            serverName: configuration.serverName ?? configuration.server.host, path: MuxRelay.path,
            headers: [MuxRelay.attemptField: "\(attempt)"], protocol: WebSocketHandshake.muxProtocol
        ) { [self] result in
            dialling = false
            switch result {
            case .success(let channel):
                attempt = 0
                linkUp(channel)
            case .failure(let error) where error.code == .refused && error.status == .serviceUnavailable
                && attempt < MuxRelay.rebalanceAttemptsMax:
                // The server put this link on a busy loop: dial again at once (waiting
                // connections stay; the server accepts once the attempts run out).
                attempt += 1
                dial()
            case .failure(let error):
                attempt = 0
                linkFailed("link to \(configuration.server): \(error)")
            }
        }
    }

    private func linkUp(_ channel: WebSocketChannel) {
        if stopped { return channel.close(code: .goingAway, reason: "relay stopping") }
        statistics.linksUp.increment()
        statistics.liveLinks.increment()
        backoff.reset()
        let statistics = statistics!
        let bridge = MuxBridge(
            channel: channel, configuration: MuxRelay.configuration(.client), streamLimits: configuration.streamLimits,
            onOpen: { _ in .refuse(code: .refused, reason: "the relay server does not open streams") },
            onStreamEvent: { event in
                switch event {
                case .opened: statistics.streamsOpened.increment()
                case .closed: statistics.streamsClosed.increment()
                case .refused: statistics.streamsRefused.increment()
                }
            },
            onClose: { [weak self] reason in self?.linkClosed(reason) })
        self.bridge = bridge
        let waiting = pending
        pending.removeAll()
        for (fd, remote) in waiting { bridge.carry(acceptedFD: fd, descriptor: [], remoteAddress: remote) }
    }

    private func linkFailed(_ why: String) {
        statistics.linkFailures.increment()
        statistics.lastError.withLock { $0 = why }
        // The waiting clients cannot be served by this attempt: close them rather than
        // hold them through the backoff.
        for (fd, _) in pending {
            statistics.streamsRefused.increment()
            _ = Glibc.close(fd)
        }
        pending.removeAll()
        scheduleRedial(afterNanos: backoff.nextDelayNanos(unit: 1))
    }

    private func linkClosed(_ reason: String) {
        bridge = nil
        statistics.liveLinks.decrement()
        statistics.lastError.withLock { $0 = "link closed: \(reason)" }
        scheduleRedial(afterNanos: 0)  // it was up: dial again at once
    }

    private func scheduleRedial(afterNanos delay: UInt64) {
        guard !stopped, retry == nil else { return }
        if delay == 0 { return dial() }
        retry = loop.schedule(afterNanos: delay) { [weak self] in
            self?.retry = nil
            self?.dial()
        }
    }

    func stop() {
        stopped = true
        listener?.close()
        listener = nil
        retry?.cancel()
        retry = nil
        for (fd, _) in pending { _ = Glibc.close(fd) }
        pending.removeAll()
        bridge?.close(reason: "relay stopping")
        bridge = nil
    }
}
