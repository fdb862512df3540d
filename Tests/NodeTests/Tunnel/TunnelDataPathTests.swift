import Foundation
import Testing
import Tunnel

@testable import Node

/// A blocking TCP echo server on a free loopback port, one thread per connection.
final class EchoServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    /// Connections accepted so far (a target nobody maps must stay at 0).
    let accepts = Counter()

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard ok else { throw CommandError("echo server: bind failed") }
        port = UInt16(bigEndian: address.sin_port)
        let accepts = accepts
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                accepts.add()
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
                        guard n > 0 else { break }
                        var sent = 0
                        while sent < n {
                            let w = buffer.withUnsafeBytes { write(client, $0.baseAddress! + sent, n - sent) }
                            guard w > 0 else { break }
                            sent += w
                        }
                    }
                    close(client)
                }
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

/// Sends `payload` to `host`:`port` (writing and reading at once, so a payload larger than
/// the socket buffers cannot deadlock) and reads the same number of bytes back.
func roundTrip(host: String = "127.0.0.1", port: UInt16, _ payload: [UInt8]) throws -> [UInt8] {
    let fd = try connectTCP(host: host, port: port)
    defer { close(fd) }
    let writer = Thread {
        var sent = 0
        while sent < payload.count {
            let n = payload.withUnsafeBytes { write(fd, $0.baseAddress! + sent, min(65536, payload.count - sent)) }
            guard n > 0 else { return }
            sent += n
        }
    }
    writer.start()
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while received.count < payload.count {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { break }
        received += buffer[0..<n]
    }
    return received
}

@Suite("Tunnel data path: client → node → connector → target", .serialized)
struct TunnelDataPathTests {
    @Test func bytesFlowThroughAnExposeMappingAndACloseEndsEverything() throws {
        let node = try TestNode()
        let echo = try EchoServer()
        let listenPort = try ProcessCluster.freePort()
        let created = node.json(try node.call("POST", "/v1/tunnels", body: #"{"name":"path"}"#, as: .adminCertificate))
        var url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        url.port = node.port
        let tunnelId = url.tunnelId
        let mapping = try node.call(
            "POST", "/v1/mappings",
            body: #"{"tunnelId":"\#(tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(listenPort)}"#,
            as: .adminCertificate)
        #expect(mapping.status.code == 201)

        let log = NodeLog(node: "connector", minimum: .error)
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: node.dir + "/conn", log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: node.dir + "/conn", log: log)
        let ended = BlockingResult<String>()
        Thread.detachNewThread { ended.set(runtime.run()) }
        try waitUntil("the connector's session is up") { node.server.hub.sessionCount(tunnelId: tunnelId) == 1 }
        try waitUntil("the connector shows online on n1") {
            let list = (try? JSONSerialization.jsonObject(
                with: Data((try? node.call("GET", "/v1/connectors", as: .adminCertificate))?.body ?? []))) as? [[String: Any]]
            return list?.contains { $0["status"] as? String == "online" && $0["node"] as? String == "n1" } == true
        }

        // Checksummed round trips, several at once.
        var random = SystemRandomNumberGenerator()
        let payload = (0..<(2 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
        #expect(try roundTrip(port: listenPort, payload) == payload)
        let results = BlockingResult<Int>()
        let concurrent = 8
        let counter = Counter()
        for _ in 0..<concurrent {
            Thread.detachNewThread {
                let small = Array(payload.prefix(100_000))
                if (try? roundTrip(port: listenPort, small)) == small { counter.add() }
                if counter.done(of: concurrent) { results.set(counter.value) }
            }
        }
        #expect(results.wait() == concurrent)

        // Defence in depth: the connector refuses a stream for a target nobody mapped.
        let forged = StreamDescriptor(tunnel: tunnelId, mapping: "m-forged", target: "127.0.0.1:22").encoded
        if case .dial = runtime.decide(forged) { Issue.record("the connector would dial an unmapped target") }

        // A committed close ends the session, the listener, and the connector's dialling.
        let closed = try node.call(
            "POST", "/v1/tunnels/\(tunnelId)/close", body: #"{"wait":true,"timeoutSeconds":5}"#, as: .adminCertificate)
        #expect(closed.status == .ok)
        let receipt = try #require(node.json(closed)["receipt"] as? [String: Any])
        #expect(receipt["complete"] as? Bool == true)
        let n1 = try #require((receipt["nodes"] as? [[String: Any]])?.first)
        #expect(n1["node"] as? String == "n1" && n1["confirmed"] as? Bool == true)
        #expect(n1["sessionsEnded"] as? Int == 1 && n1["liveSessions"] as? Int == 0 && n1["listeners"] as? Int == 0)
        let reason = ended.wait()
        #expect(reason.contains("is closed"), "\(reason)")
        #expect(node.server.hub.sessionCount(tunnelId: tunnelId) == 0)
        #expect(throws: CommandError.self) { try roundTrip(port: listenPort, [1, 2, 3]) }

        // Every session's open and close is in the replicated audit, with its byte counts.
        var closes: [[String: Any]] = []
        try waitUntil("the session records are in the audit") {
            let page = node.json((try? node.call("GET", "/v1/audit?limit=1000", as: .adminCertificate)) ?? .init(status: 500))
            let records = page["records"] as? [[String: Any]] ?? []
            closes = records.filter { $0["action"] as? String == "session.close" }
            return closes.count >= 1 + concurrent
                && records.filter { $0["action"] as? String == "session.open" }.count >= 1 + concurrent
        }
        #expect(closes.contains { ($0["detail"] as? String ?? "").contains("in=\(payload.count)") })
        #expect(closes.allSatisfy { ($0["object"] as? String ?? "").contains("tunnel/\(tunnelId)") })
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var finished = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    /// Counts one finished worker; true for the last of `total`.
    func done(of total: Int) -> Bool { lock.lock(); defer { lock.unlock() }; finished += 1; return finished == total }
}

@Suite("Connector revocation", .serialized)
struct ConnectorRevocationTests {
    @Test func aRevokedConnectorIsDisconnectedAndCannotReconnect() throws {
        let node = try TestNode()
        let created = node.json(try node.call("POST", "/v1/tunnels", body: #"{"name":"rev"}"#, as: .adminCertificate))
        var url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        url.port = node.port
        let log = NodeLog(node: "connector", minimum: .error)
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: node.dir + "/conn", log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: node.dir + "/conn", log: log)
        let ended = BlockingResult<String>()
        Thread.detachNewThread { ended.set(runtime.run()) }
        try waitUntil("the session is up") { node.server.hub.sessionCount(tunnelId: url.tunnelId) == 1 }

        let revoked = try node.call("POST", "/v1/connectors/\(identity.connectorId)/revoke", body: "{}", as: .adminCertificate)
        #expect(revoked.status == .ok, "\(String(decoding: revoked.body, as: UTF8.self))")
        #expect(ended.wait().contains("revoked"))
        #expect(node.server.hub.sessionCount(tunnelId: url.tunnelId) == 0)

        // Its certificate still verifies, but the cluster refuses it.
        let again = try ConnectorRuntime(identity: identity, stateDir: node.dir + "/conn", log: log)
        let second = BlockingResult<String>()
        Thread.detachNewThread { second.set(again.run()) }
        #expect(second.wait().contains("revoked"))
    }
}

@Suite("Clients entering at any node", .serialized)
struct TunnelRelayProcessTests {
    /// The connector holds its session to the tunnel's owner; clients entering at the
    /// other nodes are carried to it over node-to-node relay links and reach the target.
    @Test func aClientAtAnyNodeReachesTheConnectorsNode() throws {
        let names = ["n1", "n2", "n3"]
        let cluster = try ProcessCluster(names: names)
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        let echo = try EchoServer()
        let listenPort = try ProcessCluster.freePort()
        let created = cluster.json(try cluster.call("n1", "POST", "/v1/tunnels", body: #"{"name":"relay"}"#))
        let urlText = try #require(created["connectUrl"] as? String)
        let url = try ConnectURL(parsing: urlText)
        let mapping = try cluster.call(
            "n2", "POST", "/v1/mappings",
            body: #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(listenPort)}"#)
        #expect(mapping.status.code == 201)
        let log = NodeLog(node: "connector", minimum: .error)
        let state = cluster.dir + "/conn"
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: state, log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: state, log: log)
        Thread.detachNewThread { _ = runtime.run() }
        defer { runtime.stop() }
        // The connector lands on n1 (its URL's host) and is redirected to the tunnel's owner.
        let owner = try #require(Placement.owner(of: url.tunnelId, among: names))
        try waitUntil("every node knows the connector is at the owner \(owner)") {
            names.allSatisfy { name in
                let list = (try? JSONSerialization.jsonObject(
                    with: Data((try? cluster.call(name, "GET", "/v1/connectors"))?.body ?? []))) as? [[String: Any]]
                return list?.contains { $0["status"] as? String == "online" && $0["node"] as? String == owner } == true
            }
        }
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for name in names {
            let host = cluster.mappingHost(name)
            var answer: [UInt8] = []
            // The listener on a node starts when it applies the mapping: allow it a moment.
            try waitUntil("\(name)'s mapping listener carries a client") {
                answer = (try? roundTrip(host: host, port: listenPort, payload)) ?? []
                return answer == payload
            }
            #expect(answer == payload, "through \(name)")
        }

        // The node holding the session checks relayed streams against the replicated
        // mappings, not against the listeners it managed to open: with the owner's own
        // listener unable to bind (the port is taken on its mapping host), clients entering
        // at the other nodes still reach the target.
        let blockedPort = try ProcessCluster.freePort()
        let blocker = try PortBlocker(host: cluster.mappingHost(owner), port: blockedPort)
        defer { blocker.close() }
        let second = try cluster.call(
            "n1", "POST", "/v1/mappings",
            body: #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(blockedPort)}"#)
        #expect(second.status.code == 201)
        for name in names where name != owner {
            try waitUntil("\(name) carries a client to \(owner), whose own listener could not bind") {
                (try? roundTrip(host: cluster.mappingHost(name), port: blockedPort, [9, 8, 7])) == [9, 8, 7]
            }
        }

        // An allow-list that leaves loopback out is enforced on every node, also on the one
        // whose mapping host is the client's own address (relayed streams no longer come
        // back in through the listener, so no source address is let through unchecked).
        let guardedPort = try ProcessCluster.freePort()
        let guarded = try cluster.call(
            "n1", "POST", "/v1/mappings",
            body: #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(guardedPort),"allow":["10.0.0.0/8"]}"#)
        #expect(guarded.status.code == 201)
        let acceptsBefore = echo.accepts.value
        for name in names {
            // Refused = the listener accepts and closes at once (a listener not up yet refuses the connect).
            try waitUntil("\(name)'s guarded listener answers") {
                (try? roundTrip(host: cluster.mappingHost(name), port: guardedPort, [1, 2, 3])) == []
            }
        }
        #expect(echo.accepts.value == acceptsBefore, "a client outside the allow-list reached the target")

        // Revoking a node's certificate cuts its relay links at once: a client held open
        // through that node (relayed to the owner) is cut, not left running.
        let relayer = try #require(names.first { $0 != owner })
        var held: HeldClient?
        try waitUntil("a client held open through \(relayer)") {
            guard let candidate = try? HeldClient(host: cluster.mappingHost(relayer), port: listenPort) else { return false }
            held = candidate.echoes() ? candidate : nil
            return held != nil
        }
        let heldClient = try #require(held)
        // status counts it on the node holding the connector's session, asked from any node.
        try waitUntil("status shows the held session on \(owner)") {
            guard let response = try? cluster.call(relayer, "GET", "/v1/status") else { return false }
            let status = cluster.json(response)
            let members = status["members"] as? [[String: Any]] ?? []
            let counts = Dictionary(uniqueKeysWithValues: members.map { ($0["id"] as? String ?? "", $0["sessions"] as? Int) })
            return (counts[owner] ?? nil) ?? 0 >= 1 && counts.count == names.count && counts.values.allSatisfy { $0 != nil }
        }
        let revoked = try cluster.call(owner, "POST", "/v1/nodes/\(relayer)/revoke", body: "{}")
        #expect(revoked.status.code == 200, "\(String(decoding: revoked.body, as: UTF8.self))")
        try waitUntil("the client relayed through revoked \(relayer) is cut") { heldClient.isClosedByPeer() }
    }
}
