import Consensus
import Tunnel

/// Raft's transport over the peer port: one `FrameDialer` (mutual TLS, reconnecting) per
/// other member, each frame one `MessageCodec` message. Raft's own traffic only — relayed
/// bytes never share these connections, so a busy tunnel cannot delay a heartbeat.
///
/// Threading: the Raft loop only (the driver calls `send` there; dialers live there).
/// Delivery is best effort, as `RaftTransport` allows: a frame for a peer whose link is
/// down or backed up is dropped and Raft retransmits.
final class PeerTransport: RaftTransport {
    /// How to reach one member on its peer port.
    struct Peer: Equatable {
        var name: String
        var address: SocketAddress
        /// The host as configured (a DNS name or an IP): what the peer's certificate must
        /// name. Defaults to the address's numeric host.
        var serverName: String

        init(name: String, address: SocketAddress, serverName: String? = nil) {
            self.name = name
            self.address = address
            self.serverName = serverName ?? address.host
        }

        /// From a configured `host:port` or `[v6]:port`.
        init(name: String, configured: String) throws {
            self.init(
                name: name, address: try SocketAddress(parsing: configured), serverName: HostPort.host(of: configured))
        }
    }

    private let loop: EventLoop
    private let selfID: NodeID
    private let tls: TLSContextProvider
    private var peers: [NodeID: Peer] = [:]
    private var dialers: [NodeID: FrameDialer] = [:]
    private let log: NodeLog
    private(set) var framesDropped: UInt64 = 0

    init(loop: EventLoop, selfID: NodeID, tls: TLSContextProvider, log: NodeLog) {
        self.loop = loop
        self.selfID = selfID
        self.tls = tls
        self.log = log
    }

    /// Replaces the directory of members; dials new ones, hangs up on removed or moved ones.
    func setPeers(_ directory: [NodeID: Peer]) {
        precondition(loop.inEventLoop)
        for (id, dialer) in dialers where directory[id] != peers[id] || id == selfID {
            dialer.stop()
            dialers[id] = nil
        }
        peers = directory.filter { $0.key != selfID }
    }

    /// Names of members this node has a verified link to.
    var connectedPeers: [String] { dialers.compactMap { $0.value.isConnected ? peers[$0.key]?.name : nil }.sorted() }

    func name(of id: NodeID) -> String? { peers[id]?.name }

    func send(_ messages: [Message]) {
        for message in messages {
            guard let dialer = dialer(for: message.to) else {
                framesDropped += 1
                continue
            }
            if !dialer.send(MessageCodec.encode(message)) { framesDropped += 1 }
        }
    }

    /// Closes the links to peers `shouldClose` names (revoked certificates). Raft loop.
    func closeLinks(where shouldClose: (FramePeer) -> Bool, reason: String) {
        for dialer in dialers.values { dialer.closeLink(if: shouldClose, reason: reason) }
    }

    func stop() {
        for dialer in dialers.values { dialer.stop() }
        dialers = [:]
    }

    private func dialer(for id: NodeID) -> FrameDialer? {
        if let dialer = dialers[id] { return dialer }
        guard let peer = peers[id] else { return nil }
        let dialer = FrameDialer(
            .init(address: peer.address, serverName: peer.serverName, expectedPeerName: peer.name, tls: tls),
            loop: loop,
            onPeerEvent: { [log] event in
                // Links between followers carry nothing and close after their idle
                // timeout, to be redialled when needed: routine, so debug.
                switch event {
                case .disconnected(_, let reason?) where !reason.contains("idle"):
                    log.info("raft link", ["event": "\(event)"])
                default: log.debug("raft link", ["event": "\(event)"])
                }
            })
        dialers[id] = dialer
        return dialer
    }
}
