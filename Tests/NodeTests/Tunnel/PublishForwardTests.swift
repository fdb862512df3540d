import Foundation
import Testing
import Tunnel

@testable import Node

/// A node, a tunnel and a running connector on loopback (in this process), for the
/// mapping and forwarding tests.
final class ConnectorFixture {
    let node: TestNode
    let tunnelId: String
    let runtime: ConnectorRuntime
    let identity: ConnectorIdentity
    let ended = BlockingResult<String>()

    init(name: String = "fixture", proxy: HTTPConnectProxy? = nil) throws {
        node = try TestNode()
        let created = node.json(try node.call("POST", "/v1/tunnels", body: #"{"name":"\#(name)"}"#, as: .adminCertificate))
        var url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        url.port = node.port
        tunnelId = url.tunnelId
        let log = NodeLog(node: "connector", minimum: .error)
        identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: node.dir + "/conn", log: log, proxy: proxy)
        runtime = try ConnectorRuntime(identity: identity, stateDir: node.dir + "/conn", log: log, proxy: proxy)
        let (runtime, ended) = (runtime, ended)
        Thread.detachNewThread { ended.set(runtime.run()) }
        // Both ends: the node registered the session, the connector's bridge is attached.
        try waitUntil("the connector's session is up") {
            self.node.server.hub.sessionCount(tunnelId: self.tunnelId) == 1 && self.runtime.mappings.bridge != nil
        }
    }

    deinit { runtime.stop() }

    /// POSTs `body` to `path` as admin; returns the created object's id.
    func create(_ path: String, _ body: String) throws -> String {
        let response = try node.call("POST", path, body: body, as: .adminCertificate)
        guard response.status.code == 201, let id = node.json(response)["id"] as? String else {
            throw CommandError("POST \(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return id
    }

    /// Waits until the connector listens for `key` (`publish/ID`, `remote/ID`); its port.
    func connectorPort(_ key: String) throws -> UInt16 {
        var port: UInt16?
        try waitUntil("the connector listens for \(key)") {
            port = runtime.mappings.listeningPorts[key]
            return port != nil
        }
        return port!
    }

    /// The audit records with `action` (all of them, newest last).
    func audit(_ action: String) -> [[String: Any]] {
        let page = node.json((try? node.call("GET", "/v1/audit?limit=1000", as: .adminCertificate)) ?? .init(status: 500))
        return (page["records"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == action }
    }
}

/// `count` pseudo-random bytes (different for each seed).
func randomPayload(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return UInt8(truncatingIfNeeded: x)
    }
}

@Suite("Publish mappings and forwarding rules", .serialized)
struct PublishForwardTests {
    /// A publish mapping added while the connector runs: the connector opens a listener
    /// on its host, its clients reach the gateway-side target through the node, bytes
    /// intact both ways; removing the mapping stops the listener.
    @Test func aPublishMappingCarriesClientsOfTheConnectorsHostToAGatewaySideTarget() throws {
        let f = try ConnectorFixture(name: "pub")
        let gatewayApp = try EchoServer()
        let port = try ProcessCluster.freePort()
        let mapping = try f.create(
            "/v1/mappings",
            #"{"tunnelId":"\#(f.tunnelId)","kind":"publish","target":"127.0.0.1:\#(gatewayApp.port)","listenPort":\#(port)}"#)
        #expect(try f.connectorPort("publish/\(mapping)") == port)

        let payload = randomPayload(4 << 20, seed: 1)
        #expect(try roundTrip(port: port, payload) == payload)
        let small = randomPayload(64 << 10, seed: 2)
        for _ in 0..<4 { #expect(try roundTrip(port: port, small) == small) }
        #expect(gatewayApp.accepts.value == 5)

        // The stream is audited on the node with the mapping and both byte counts.
        try waitUntil("the publish session is audited") {
            f.audit("session.close").contains { ($0["detail"] as? String ?? "").contains("in=\(payload.count) out=\(payload.count)") }
        }
        #expect(f.audit("session.open").contains { ($0["object"] as? String ?? "").contains("mapping/\(mapping)") })

        // Removed while running: the listener goes away.
        #expect(try f.node.call("DELETE", "/v1/mappings/\(mapping)", as: .adminCertificate).status == .ok)
        try waitUntil("the connector stopped the listener") {
            f.runtime.mappings.listeningPorts["publish/\(mapping)"] == nil && (try? roundTrip(port: port, [1])) == nil
        }
    }

    /// A committed close ends the connector (it says why) and its listeners, even while
    /// a publish listener is up (the final close arrives on an event loop).
    @Test func closingTheTunnelStopsTheConnectorAndItsListeners() throws {
        let f = try ConnectorFixture(name: "close")
        let gatewayApp = try EchoServer()
        let port = try ProcessCluster.freePort()
        let mapping = try f.create(
            "/v1/mappings",
            #"{"tunnelId":"\#(f.tunnelId)","kind":"publish","target":"127.0.0.1:\#(gatewayApp.port)","listenPort":\#(port)}"#)
        _ = try f.connectorPort("publish/\(mapping)")
        #expect(try roundTrip(port: port, [1, 2, 3]) == [1, 2, 3])
        let closed = try f.node.call("POST", "/v1/tunnels/\(f.tunnelId)/close", body: "{}", as: .adminCertificate)
        #expect(closed.status == .ok)
        try waitUntil("the connector stopped") { f.ended.peek != nil }
        #expect(f.ended.peek?.contains("is closed") == true, "\(f.ended.peek ?? "")")
        try waitUntil("the publish listener is gone") { (try? roundTrip(port: port, [1])) == nil }
    }

    /// Nothing unmapped is dialled, on either side, and each side says why.
    @Test func unmappedStreamsAreRefusedOnBothSidesWithAReason() throws {
        let f = try ConnectorFixture(name: "deny")
        let secret = try EchoServer()  // a gateway-side app nobody mapped
        let bridge = try #require(f.runtime.mappings.bridge)

        // The connector forges a publish stream for it: the node refuses and dials nothing.
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[1]) }
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)  // carry takes non-blocking sockets
        let forged = StreamDescriptor(
            tunnel: f.tunnelId, mapping: "m-forged", target: "127.0.0.1:\(secret.port)", kind: .publish)
        bridge.carry(acceptedFD: pair[0], descriptor: forged.encoded, remoteAddress: "127.0.0.1:1")
        var byte: UInt8 = 0
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(pair[1], SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(read(pair[1], &byte, 1) == 0, "the forged stream is ended")
        try waitUntil("the refusal is audited with its reason") {
            f.audit("session.open").contains {
                $0["outcome"] as? String == "denied" && ($0["detail"] as? String ?? "").contains("no publish mapping m-forged")
            }
        }
        #expect(secret.accepts.value == 0)

        // An expose stream naming a target the mapping does not have: the connector refuses.
        let exposed = try EchoServer()
        let port = try ProcessCluster.freePort()
        let mapping = try f.create(
            "/v1/mappings",
            #"{"tunnelId":"\#(f.tunnelId)","kind":"expose","target":"127.0.0.1:\#(exposed.port)","listenPort":\#(port)}"#)
        try waitUntil("the connector knows the mapping") { f.runtime.mappings.config?.mappings.contains { $0.id == mapping } == true }
        for (descriptor, reason) in [
            (StreamDescriptor(tunnel: f.tunnelId, mapping: mapping, target: "127.0.0.1:\(secret.port)"), "does not target"),
            (StreamDescriptor(tunnel: f.tunnelId, mapping: "m-none", target: "127.0.0.1:\(secret.port)"), "not mapped"),
            (StreamDescriptor(tunnel: "t-other", mapping: mapping, target: "127.0.0.1:\(exposed.port)"), "not a stream of this tunnel"),
            (StreamDescriptor(tunnel: f.tunnelId, mapping: mapping, target: "127.0.0.1:\(exposed.port)", kind: .publish), "may not open publish"),
        ] {
            guard case .refuse(_, let why) = f.runtime.decide(descriptor.encoded) else {
                Issue.record("the connector would dial \(descriptor)")
                continue
            }
            #expect(why.contains(reason), "\(why)")
        }
        #expect(try roundTrip(port: port, [1, 2, 3]) == [1, 2, 3])
        #expect(secret.accepts.value == 0)
    }

    /// An endpoint served by the connector: a local forward (gateway listener → target in
    /// the endpoint's scope) and a remote forward (connector listener → gateway-side
    /// target). A local forward outside the scope gets no listener, and the connector
    /// would refuse it too.
    @Test func localAndRemoteForwardsCarryBytesAndScopeIsEnforcedOnBothSides() throws {
        let f = try ConnectorFixture(name: "fwd")
        let inside = try EchoServer()  // "in the VPC", reached through the connector
        let gatewaySide = try EchoServer()  // reached from the connector's host
        let endpoint = try f.create(
            "/v1/endpoints", #"{"name":"edge","connectorId":"\#(f.identity.connectorId)","subnets":["127.0.0.0/8"]}"#)
        let localPort = try ProcessCluster.freePort()
        let local = try f.create(
            "/v1/forwards",
            #"{"endpointId":"\#(endpoint)","kind":"local","listenPort":\#(localPort),"target":"127.0.0.1:\#(inside.port)"}"#)
        let remotePort = try ProcessCluster.freePort()
        let remote = try f.create(
            "/v1/forwards",
            #"{"endpointId":"\#(endpoint)","kind":"remote","listenPort":\#(remotePort),"target":"127.0.0.1:\#(gatewaySide.port)"}"#)
        let outPort = try ProcessCluster.freePort()
        let outside = try f.create(
            "/v1/forwards",
            #"{"endpointId":"\#(endpoint)","kind":"local","listenPort":\#(outPort),"target":"192.0.2.7:22"}"#)

        let payload = randomPayload(3 << 20, seed: 3)
        var answer: [UInt8] = []
        try waitUntil("the node's local-forward listener carries a client") {
            answer = (try? roundTrip(port: localPort, payload)) ?? []
            return answer == payload
        }
        #expect(answer == payload)
        #expect(try f.connectorPort("remote/\(remote)") == remotePort)
        #expect(try roundTrip(port: remotePort, payload) == payload)

        // Out of scope: no gateway listener, and the connector refuses the stream as well.
        #expect(throws: CommandError.self) { try roundTrip(port: outPort, [1]) }
        let forged = StreamDescriptor(tunnel: f.tunnelId, mapping: outside, target: "192.0.2.7:22", kind: .local)
        guard case .refuse(_, let why) = f.runtime.decide(forged.encoded) else {
            Issue.record("the connector would dial a target outside its endpoint's scope")
            return
        }
        #expect(why.contains("outside endpoint \(endpoint)'s scope"), "\(why)")

        // Unassociating the subnet takes the local forward out of scope: its listener stops.
        let unassociated = try f.node.call(
            "POST", "/v1/endpoints/\(endpoint)/unassociate", body: #"{"subnets":["127.0.0.0/8"]}"#, as: .adminCertificate)
        #expect(unassociated.status == .ok)
        try waitUntil("the local forward's listener stopped") { (try? roundTrip(port: localPort, [1])) == nil }
        let stale = StreamDescriptor(tunnel: f.tunnelId, mapping: local, target: "127.0.0.1:\(inside.port)", kind: .local)
        try waitUntil("the connector refuses the now out-of-scope forward") {
            if case .refuse = f.runtime.decide(stale.encoded) { return true }
            return false
        }
    }
}
