import Synchronization
import Testing

@testable import Tunnel

/// Listener and dialer over real loopback mutual-TLS sockets on one loop. Waits are on
/// observable conditions with bounded deadlines (`eventually`).
@Suite("Link over loopback", .serialized)
struct FrameLinkTests {
    /// A listener and one connected dialer.
    static func connectedPair(
        _ rig: LinkRig, listenerLink: FrameLinkConfiguration = .init(), dialerLink: FrameLinkConfiguration = .init()
    ) throws -> (FrameListener, FrameDialer, LinkInbox, LinkInbox) {
        let inbox = LinkInbox()
        let listener = try rig.listen(link: listenerLink, inbox: inbox)
        let dialerInbox = LinkInbox()
        let dialer = try rig.dial(port: listener.port, link: dialerLink, inbox: dialerInbox)
        #expect(eventually { dialer.statistics.isConnected && listener.statistics.activeLinks.load == 1 })
        return (listener, dialer, inbox, dialerInbox)
    }

    @Test func tenThousandSmallFramesArriveInOrderWithTheirPeer() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let (listener, dialer, inbox, dialerInbox) = try Self.connectedPair(rig)
        for batch in 0..<10 {
            let accepted = try rig.onLoop { (0..<1000).allSatisfy { dialer.send(numberedFrame(batch * 1000 + $0)) } }
            #expect(accepted)
        }
        #expect(eventually { inbox.frameCount == 10_000 })
        let received = inbox.received
        #expect(received.indices.allSatisfy { received[$0].bytes == numberedFrame($0) })
        #expect(received.allSatisfy { $0.peer == "n2" })
        #expect(dialer.statistics.framesSent.load == 10_000 && dialer.statistics.framesDropped.load == 0)
        #expect(listener.statistics.framesReceived.load == 10_000)
        let peers = try rig.onLoop { listener.connectedPeers }
        #expect(peers.map(\.name) == ["n2"] && peers[0].address?.host == "127.0.0.1")
        #expect(dialerInbox.connectedPeers.map(\.name) == ["n1"])
        try rig.onLoop { listener.stop(); dialer.stop() }
    }

    @Test func multiMegabyteFramesArriveWholeAndTheWatermarkDropsWhatFollows() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let (listener, dialer, inbox, _) = try Self.connectedPair(rig)
        let sizes = [4 << 20, 7 << 20, 16 << 20]
        for (i, size) in sizes.enumerated() {
            // The big frame is accepted; a frame in the same event, above the 4 MiB high
            // watermark, is dropped.
            let frame = largeFrame(size, seed: UInt8(i))
            let (big, small) = try rig.onLoop { (dialer.send(frame), dialer.send([1])) }
            #expect(big && !small)
            #expect(eventually(seconds: 20) { inbox.frameCount == i + 1 })
            #expect(sameBytes(inbox.received[i].bytes, frame))
        }
        #expect(dialer.statistics.framesDropped.load == 3)
        try rig.onLoop { listener.stop(); dialer.stop() }
    }

    @Test func anOversizeFrameClosesTheLinkAndTheDialerReconnects() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let (listener, dialer, inbox, _) = try Self.connectedPair(rig, listenerLink: .init(frameBytesMax: 1024))
        #expect(try rig.onLoop { dialer.send([1, 2, 3]) && dialer.send(pattern(2048)) })
        #expect(eventually { dialer.statistics.reconnects.load >= 1 && dialer.statistics.connects.load >= 2 })
        #expect(eventually { dialer.statistics.isConnected })
        #expect(inbox.disconnectReasons.contains { $0?.contains("2048 bytes, over frameBytesMax 1024") == true })
        #expect(try rig.onLoop { dialer.send([4, 5]) })
        #expect(eventually { inbox.frameCount == 2 })
        #expect(inbox.received.map(\.bytes) == [[1, 2, 3], [4, 5]])
        try rig.onLoop { listener.stop(); dialer.stop() }
    }

    @Test func anAdminClientCertificateIsRefusedByTheListener() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        // Refused by the TLS context (acceptedPeerRoles = [.node]) and, with a context
        // that accepts every role, by the listener's own check.
        for roles: Set<CertificateRole> in [[.node], []] {
            let inbox = LinkInbox()
            let listener = try rig.listen(provider: try rig.serverProvider(roles: roles), inbox: inbox)
            let dialer = try rig.dial(
                port: listener.port, provider: try rig.clientProvider(name: "ops", role: .admin))
            #expect(eventually { listener.statistics.refusals.load >= 2 })
            #expect(inbox.refusals.contains { $0.contains("role admin is not accepted") })
            #expect(listener.statistics.connects.load == 0 && inbox.connectedPeers.isEmpty)
            // TLS 1.3: the client finishes its handshake before the server checks its
            // certificate, so the dialer sees a link that the server then closes.
            #expect(eventually { dialer.statistics.reconnects.load >= 1 })
            #expect(dialer.statistics.lastError.withLock { $0 } != nil)
            try rig.onLoop { dialer.send([1]) }
            #expect(inbox.frameCount == 0)
            try rig.onLoop { listener.stop(); dialer.stop() }
        }
    }

    @Test func aServerCertificateOfTheWrongRoleOrNameIsRefusedByTheDialer() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        // A connector certificate on the server side (clientAuth only: TLS refuses it).
        let connector = try issueIdentity(from: rig.ca, name: "c1", role: .connector)
        let inbox = LinkInbox()
        let listener = try rig.listen(provider: try rig.serverProvider(connector), inbox: inbox)
        let dialerInbox = LinkInbox()
        let dialer = try rig.dial(port: listener.port, inbox: dialerInbox)
        #expect(eventually { dialer.statistics.refusals.load >= 2 })
        #expect(dialer.statistics.connects.load == 0 && !dialer.statistics.isConnected)
        try rig.onLoop { listener.stop(); dialer.stop() }

        // A node certificate naming n1 where n3 is expected: refused by the dialer's check.
        let second = try rig.listen(inbox: LinkInbox())
        let namedInbox = LinkInbox()
        let named = try rig.dial(port: second.port, expectedPeerName: "n3", inbox: namedInbox)
        #expect(eventually { named.statistics.refusals.load >= 2 })
        #expect(namedInbox.refusals.contains { $0.contains("names node n1, expected node n3") })
        #expect(named.statistics.connects.load == 0)
        #expect(try rig.onLoop { !named.send([1]) })
        try rig.onLoop { second.stop(); named.stop() }
    }

    @Test func theDialerReconnectsWhenTheListenerRestartsOnTheSamePort() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let (listener, dialer, inbox, dialerInbox) = try Self.connectedPair(rig)
        let port = listener.port
        try rig.onLoop { listener.stop() }
        #expect(eventually { !dialer.statistics.isConnected })
        #expect(eventually { dialerInbox.disconnectReasons.count == 1 })
        #expect(try rig.onLoop { !dialer.send([9]) })
        // Let at least one redial fail against the closed port before restarting.
        #expect(eventually { dialer.statistics.refusals.load >= 1 })
        let restarted = try rig.listen(port: port, inbox: inbox)
        #expect(restarted.port == port)
        #expect(eventually { dialer.statistics.isConnected && dialer.statistics.connects.load == 2 })
        #expect(try rig.onLoop { dialer.send([7, 7]) })
        #expect(eventually { inbox.frameCount == 1 })
        #expect(inbox.received[0].bytes == [7, 7])
        try rig.onLoop { restarted.stop(); dialer.stop() }
    }

    @Test func sendWhileDisconnectedReturnsFalseAndCountsADrop() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let closed = try rig.listen(inbox: LinkInbox())
        let port = closed.port
        try rig.onLoop { closed.stop() }
        let dialer = try rig.dial(port: port)
        #expect(try rig.onLoop { !dialer.send([1]) && !dialer.isConnected })
        #expect(dialer.statistics.framesDropped.load == 1 && dialer.statistics.framesSent.load == 0)
        #expect(eventually { dialer.statistics.reconnects.load >= 2 })
        #expect(dialer.statistics.lastError.withLock { $0 }?.contains("onnection refused") == true)
        try rig.onLoop { dialer.stop() }
        #expect(try rig.onLoop { !dialer.send([1]) })
    }

    @Test func framesSentWhileConnectingAreHeldUpToTheQueueBound() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let inbox = LinkInbox()
        let listener = try rig.listen(inbox: inbox)
        let configuration = FrameDialer.Configuration(
            address: try SocketAddress(parsing: "127.0.0.1:\(listener.port)"), tls: try rig.clientProvider(),
            connectQueueFramesMax: 2)
        let (dialer, results) = try rig.onLoop { () -> (FrameDialer, [Bool]) in
            let dialer = FrameDialer(configuration, loop: rig.loop)
            return (dialer, [dialer.send([1]), dialer.send([2]), dialer.send([3])])
        }
        #expect(results == [true, true, false])
        #expect(eventually { inbox.frameCount == 2 })
        #expect(inbox.received.map(\.bytes) == [[1], [2]])
        try rig.onLoop { listener.stop(); dialer.stop() }
    }

    @Test func aContextSwapServesNewLinksTheNewCertificateWhileALiveLinkKeepsWorking() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let provider = try rig.serverProvider()
        let inbox = LinkInbox()
        let listener = try rig.listen(provider: provider, inbox: inbox)
        let oldInbox = LinkInbox()
        let old = try rig.dial(port: listener.port, inbox: oldInbox)
        #expect(eventually { old.statistics.isConnected })
        let renewed = try issueIdentity(from: rig.ca, name: "n1")
        provider.swap(try rig.serverProvider(renewed).current)

        let newInbox = LinkInbox()
        let new = try rig.dial(port: listener.port, provider: try rig.clientProvider(name: "n3"), inbox: newInbox)
        #expect(eventually { new.statistics.isConnected })
        #expect(newInbox.connectedPeers.first?.certificateSerialHex == renewed.certificate.serialHex)
        #expect(oldInbox.connectedPeers.first?.certificateSerialHex == rig.serverIdentity.certificate.serialHex)
        #expect(try rig.onLoop { old.send([1]) && new.send([2]) })
        #expect(eventually { inbox.frameCount == 2 })
        #expect(Set(inbox.received.map { "\($0.peer):\($0.bytes)" }) == ["n2:[1]", "n3:[2]"])
        #expect(old.statistics.connects.load == 1)
        try rig.onLoop { listener.stop(); old.stop(); new.stop() }
    }
}
