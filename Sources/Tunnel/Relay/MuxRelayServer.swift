internal import Synchronization

/// What both ends of a multiplexed relay (`warren relay --mux`) share: the WebSocket path
/// the client upgrades, and the mux settings of a link.
public enum MuxRelay {
    /// The path a `--mux --tls-client` relay upgrades on the server relay.
    public static let path = "/v1/relay/mux"

    /// Streams one end lets the other open at once on one link (as many as a tunnel's
    /// session: relayed connections are cheap while idle).
    public static let streamsPerLinkMax = 65_536

    /// One end's mux settings. Output buffers keep room for the WebSocket header, so each
    /// flush reaches TLS as one write.
    public static func configuration(_ role: MuxRole) -> MuxConfiguration {
        MuxConfiguration(
            role: role, maxConcurrentStreams: streamsPerLinkMax,
            outputHeadroomBytes: WebSocketFrameEncoder.headerBytesMax)
    }
}

/// The TLS side of a multiplexed relay: accepts mutual-TLS connections on `listen`, each
/// upgraded to a WebSocket carrying a mux session (`warren-mux.v1`, docs/PROTOCOL.md),
/// and dials `target` (plain TCP) for every stream the client relay opens. One
/// handshake per link, not per relayed connection — ssh -L's shape.
///
/// Threading: the HTTPS listener runs one acceptor per loop (SO_REUSEPORT); each link and
/// the target sockets of its streams live on the loop that accepted the link.
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
        server = try HTTPServer(configuration: .init(listen: listen, tls: tls), group: group) { request, responder in
            guard request.path == MuxRelay.path else {
                return responder.respond(HTTPResponse(status: .notFound, body: Array("not found\n".utf8)))
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
                        if let channel { links.remove(channel) }
                    })
                links.add(channel, bridge)
            }
        }
    }

    /// Stops accepting and ends every link now (their streams' sockets close).
    public func stop() {
        server.stop()
        for bridge in links.all() { bridge.close(reason: "relay stopping") }
    }
}

/// The server's live links by channel, so `stop` can end them. Any thread.
final class LiveLinks: Sendable {
    private let bridges = Mutex<[ObjectIdentifier: MuxBridge]>([:])
    func add(_ channel: WebSocketChannel, _ bridge: MuxBridge) { bridges.withLock { $0[ObjectIdentifier(channel)] = bridge } }
    func remove(_ channel: WebSocketChannel) { _ = bridges.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
    func all() -> [MuxBridge] { bridges.withLock { Array($0.values) } }
}
