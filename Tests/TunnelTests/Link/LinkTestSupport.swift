#if canImport(Glibc)
import Glibc
#endif
import Synchronization

@testable import Tunnel

/// Frames and events a listener or dialer delivered, recorded on the loop and read by the test.
final class LinkInbox: Sendable {
    private let frames = Mutex<[(peer: String, bytes: [UInt8])]>([])
    private let events = Mutex<[FramePeerEvent]>([])

    func onFrame(_ frame: [UInt8], _ peer: FramePeer) { frames.withLock { $0.append((peer.name, frame)) } }
    func onEvent(_ event: FramePeerEvent) { events.withLock { $0.append(event) } }

    var frameCount: Int { frames.withLock { $0.count } }
    var received: [(peer: String, bytes: [UInt8])] { frames.withLock { $0 } }
    var eventLog: [FramePeerEvent] { events.withLock { $0 } }

    var refusals: [String] {
        eventLog.compactMap { if case .refused(_, let reason) = $0 { reason } else { nil } }
    }
    var disconnectReasons: [String?] {
        eventLog.compactMap { if case .disconnected(_, let reason) = $0 { reason } else { nil } }
    }
    var connectedPeers: [FramePeer] {
        eventLog.compactMap { if case .connected(let peer) = $0 { peer } else { nil } }
    }
}

/// One event loop, a CA and node identities, and helpers to build links on the loop.
final class LinkRig {
    let group: EventLoopGroup
    let loop: EventLoop
    let ca: CertificateAuthority
    let serverIdentity: TLSIdentity

    init() throws {
        group = try EventLoopGroup(loopCount: 1)
        loop = group.loops[0]
        ca = try makeTLSCA()
        serverIdentity = try issueIdentity(from: ca, name: "n1")
    }

    /// Stops the loop thread. Call from the test thread (never from a closure on the
    /// loop, which would join itself); closures on the loop may still hold the rig.
    func shutdown() { group.shutdown() }

    /// Runs `body` on the loop and waits for it.
    @discardableResult
    func onLoop<T>(_ body: @escaping () throws -> T) throws -> T { try Relay.onLoop(loop, body) }

    func serverProvider(_ identity: TLSIdentity? = nil, roles: Set<CertificateRole> = [.node]) throws
        -> TLSContextProvider
    {
        let identity = identity ?? serverIdentity
        var config = TLSConfiguration(
            certificateChainPEM: identity.certificatePEM, privateKeyPEM: identity.keyPEM,
            trustRootsPEM: try ca.certificate.pemString(), clientAuth: .required)
        config.acceptedPeerRoles = roles
        return TLSContextProvider(try TLSContext(config, side: .server))
    }

    func clientProvider(name: String = "n2", role: CertificateRole = .node) throws -> TLSContextProvider {
        let identity = try issueIdentity(from: ca, name: name, role: role)
        return TLSContextProvider(try clientContext(identity, trusting: ca))
    }

    func listen(
        port: UInt16 = 0, provider: TLSContextProvider? = nil, link: FrameLinkConfiguration = .init(),
        inbox: LinkInbox
    ) throws -> FrameListener {
        let configuration = FrameListener.Configuration(
            address: try SocketAddress(parsing: "127.0.0.1:\(port)"), tls: try provider ?? serverProvider(), link: link)
        return try onLoop {
            try FrameListener(configuration, loop: self.loop, onFrame: inbox.onFrame, onPeerEvent: inbox.onEvent)
        }
    }

    func dial(
        port: UInt16, provider: TLSContextProvider? = nil, expectedPeerName: String? = nil,
        link: FrameLinkConfiguration = .init(), connectQueueFramesMax: Int = 0, inbox: LinkInbox = LinkInbox()
    ) throws -> FrameDialer {
        let configuration = FrameDialer.Configuration(
            address: try SocketAddress(parsing: "127.0.0.1:\(port)"), expectedPeerName: expectedPeerName,
            tls: try provider ?? clientProvider(), link: link, connectQueueFramesMax: connectQueueFramesMax,
            jitterSeed: 42)
        return try onLoop { FrameDialer(configuration, loop: self.loop, onFrame: inbox.onFrame, onPeerEvent: inbox.onEvent) }
    }
}

/// A frame whose bytes say its index, so order and integrity are checked together.
func numberedFrame(_ i: Int, size: Int = 8) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: (i >> (8 * ($0 % 4))) &+ $0 / 4) }
}

/// A large payload, built fast (a per-byte `map` of 16 MiB takes seconds in debug):
/// 4 KiB blocks, each opening with its block number and `seed`, so a misplaced block shows.
func largeFrame(_ size: Int, seed: UInt8) -> [UInt8] {
    let block = pattern(4096, seed: seed)
    var out: [UInt8] = []
    out.reserveCapacity(size)
    var number: UInt32 = 0
    while out.count < size {
        var chunk = block
        chunk[0] = UInt8(truncatingIfNeeded: number >> 24)
        chunk[1] = UInt8(truncatingIfNeeded: number >> 16)
        chunk[2] = UInt8(truncatingIfNeeded: number >> 8)
        chunk[3] = UInt8(truncatingIfNeeded: number)
        out.append(contentsOf: chunk.prefix(size - out.count))
        number += 1
    }
    return out
}

/// Byte equality by memcmp (element-wise `==` on 16 MiB is slow in debug builds).
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
}
