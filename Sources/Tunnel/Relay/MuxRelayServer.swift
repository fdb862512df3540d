internal import Synchronization

/// What both ends of a multiplexed relay (`warren relay --mux`) share: the WebSocket path
/// the client upgrades, and the mux settings of a link.
public enum MuxRelay {
    /// The path a `--mux --tls-client` relay upgrades on the server relay.
    public static let path = "/v1/relay/mux"

    /// Streams one end lets the other open at once on one link (as many as a tunnel's
    /// session: relayed connections are cheap while idle).
    public static let streamsPerLinkMax = 65_536

    /// The request field carrying the client's dial attempt for one link (0, 1, …): the
    /// server asks for another dial (503 `relay_rebalance`) while the attempt is below
    /// `rebalanceAttemptsMax` and the link landed on a loop busier than its least busy one.
    public static let attemptField = "Warren-Relay-Attempt"
    public static let rebalanceAttemptsMax = 16

    /// Credit per stream: 1 MiB, as the tunnel's sessions (`TunnelMux`): several of the
    /// bridge's 256 KiB reads of one stream in flight at once, so one end encrypts the
    /// next while the other decrypts the last.
    public static let streamWindowBytes = 1024 * 1024

    /// One end's mux settings. DATA frames as large as a full read (`MuxBridge.dataFrameBytes`);
    /// output buffers keep room for the WebSocket header, so each flush reaches TLS as one write.
    public static func configuration(_ role: MuxRole) -> MuxConfiguration {
        MuxConfiguration(
            role: role, frameBytesMax: MuxBridge.dataFrameBytes, initialWindowBytes: streamWindowBytes,
            maxConcurrentStreams: streamsPerLinkMax,
            outputHeadroomBytes: WebSocketFrameEncoder.headerBytesMax)
    }
}

/// The TLS side of a multiplexed relay: accepts mutual-TLS connections on `listen`, each
/// upgraded to a WebSocket carrying a mux session (`warren-mux.v1`, docs/PROTOCOL.md),
/// and dials `target` (plain TCP) for every stream the client relay opens. One
/// handshake per link, not per relayed connection — ssh -L's shape.
///
/// Threading: the HTTPS listener runs one acceptor per loop (SO_REUSEPORT); each link and
/// the target sockets of its streams live on the loop that accepted the link. The kernel
/// picks that loop by a hash, so two links could share a loop while another idles (8
/// streams would then use one core): a link landing on a loop with more links than the
/// least busy one is refused with 503 `relay_rebalance` and the client dials again (a new
/// source port, a new pick), at most `MuxRelay.rebalanceAttemptsMax` times.
public final class MuxRelayServer: Sendable {
    /// Counters readable from any thread.
    public final class Statistics: Sendable {
        /// Links (WebSocket upgrades) accepted.
        public let links = AtomicCounter()
        /// Links open now.
        public let liveLinks = AtomicCounter()
        /// Streams dialled to the target and carrying bytes.
        public let streamsOpened = AtomicCounter()
        /// Streams ended.
        public let streamsClosed = AtomicCounter()
        /// Streams whose target could not be reached.
        public let streamsRefused = AtomicCounter()
        /// Link dials asked to dial again because their loop was busier than another.
        public let rebalanced = AtomicCounter()
        init() {}
    }

    public let statistics = Statistics()
    /// The bound port (the one picked when the address asked for port 0).
    public var port: UInt16 { server.port }
    private let server: HTTPServer
    private let links: LiveLinks

    /// Listens on `listen` with `tls` (a server context; mutual TLS as it requires) and
    /// relays every stream to `target`. Throws when the address cannot be bound.
    public init(listen: SocketAddress, target: SocketAddress, tls: TLSContextProvider, group: EventLoopGroup,
                streamLimits: ConnectionLimits = .init()) throws {
        let statistics = self.statistics
        let links = LiveLinks()
        self.links = links
        let loops = group.loops
        server = try HTTPServer(configuration: .init(listen: listen, tls: tls), group: group) { request, responder in
            guard request.path == MuxRelay.path else {
                return responder.respond(HTTPResponse(status: .notFound, body: Array("not found\n".utf8)))
            }
            let loop = loops.firstIndex { $0.inEventLoop } ?? 0
            let attempt = request.headers[MuxRelay.attemptField].flatMap { Int($0) } ?? MuxRelay.rebalanceAttemptsMax
            if attempt < MuxRelay.rebalanceAttemptsMax && !links.isLeastBusy(loop, of: loops.count) {
                statistics.rebalanced.increment()
                return responder.respond(
                    .error(.serviceUnavailable, code: "relay_rebalance", message: "this loop holds more links; dial again"))
            }
            responder.upgradeToWebSocket(request, protocol: WebSocketHandshake.muxProtocol) { channel in
                statistics.links.increment()
                statistics.liveLinks.increment()
                let bridge = MuxBridge(
                    channel: channel, configuration: MuxRelay.configuration(.server), streamLimits: streamLimits,
                    onOpen: { _ in .dial(target) },
                    onStreamEvent: { event in
                        switch event {
                        case .opened: statistics.streamsOpened.increment()
                        case .closed: statistics.streamsClosed.increment()
                        case .refused: statistics.streamsRefused.increment()
                        }
                    },
                    onClose: { [weak channel] _ in
                        statistics.liveLinks.decrement()
                        if let channel { links.remove(channel, loop: loop) }
                    })
                links.add(channel, bridge, loop: loop)
            }
        }
    }

    /// Live links on each loop of the group, by loop index (for tests and debugging).
    public func linksPerLoop(_ loopCount: Int) -> [Int] { (0..<loopCount).map { links.count(on: $0) } }

    /// Stops accepting and ends every link now (their streams' sockets close).
    public func stop() {
        server.stop()
        for bridge in links.all() { bridge.close(reason: "relay stopping") }
    }
}

/// The server's live links by channel (so `stop` can end them) and how many each loop
/// holds. Any thread.
final class LiveLinks: Sendable {
    private let state = Mutex<(bridges: [ObjectIdentifier: MuxBridge], perLoop: [Int: Int])>(([:], [:]))

    func add(_ channel: WebSocketChannel, _ bridge: MuxBridge, loop: Int) {
        state.withLock {
            $0.bridges[ObjectIdentifier(channel)] = bridge
            $0.perLoop[loop, default: 0] += 1
        }
    }

    func remove(_ channel: WebSocketChannel, loop: Int) {
        state.withLock {
            guard $0.bridges.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            $0.perLoop[loop, default: 1] -= 1
        }
    }

    /// Whether no loop of `count` holds fewer links than `loop`.
    func isLeastBusy(_ loop: Int, of count: Int) -> Bool {
        state.withLock { s in
            let mine = s.perLoop[loop] ?? 0
            return (0..<count).allSatisfy { (s.perLoop[$0] ?? 0) >= mine }
        }
    }

    func count(on loop: Int) -> Int { state.withLock { $0.perLoop[loop] ?? 0 } }

    func all() -> [MuxBridge] { state.withLock { Array($0.bridges.values) } }
}
