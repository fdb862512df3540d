import Foundation
import Testing
import Tunnel

@testable import Node

/// Three node processes, an echo target and in-process connectors, for the placement,
/// failover, drain and close-under-load tests. Nodes are SIGKILLed when it goes away.
final class ShardingTestCluster {
    static let names = ["n1", "n2", "n3"]
    let cluster: ProcessCluster
    let echo: EchoServer
    private var runtimes: [ConnectorRuntime] = []

    init() throws {
        cluster = try ProcessCluster(names: Self.names)
        for name in Self.names { try cluster.start(name, initial: Self.names) }
        try cluster.waitReady(Self.names)
        echo = try EchoServer()
    }

    deinit { for runtime in runtimes { runtime.stop() } }

    struct Tunnel {
        var id: String
        var url: ConnectURL
        var port: UInt16
        var owner: String
    }

    /// A tunnel with an expose mapping to the echo server on a fresh port, whose owner
    /// (over all three nodes) is not in `avoiding`.
    func tunnel(_ name: String, duration: String = "1h", ownerNotIn avoiding: Set<String> = []) throws -> Tunnel {
        for attempt in 0..<20 {
            let created = cluster.json(
                try cluster.call(
                    "n1", "POST", "/v1/tunnels", body: #"{"name":"\#(name)-\#(attempt)","duration":"\#(duration)"}"#))
            let url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
            let owner = try #require(Placement.owner(of: url.tunnelId, among: Self.names))
            guard !avoiding.contains(owner) else {
                _ = try cluster.call("n1", "POST", "/v1/tunnels/\(url.tunnelId)/close", body: "{}")
                continue
            }
            let port = try ProcessCluster.freePort()
            let mapping = try cluster.call(
                "n1", "POST", "/v1/mappings",
                body: #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(port)}"#)
            #expect(mapping.status.code == 201)
            return Tunnel(id: url.tunnelId, url: url, port: port, owner: owner)
        }
        throw CommandError("no tunnel with an owner outside \(avoiding) in 20 tries")
    }

    /// Enrols and runs a connector for `tunnel`; the result is its final reason.
    func connector(_ tunnel: Tunnel) throws -> (ConnectorRuntime, BlockingResult<String>) {
        let log = NodeLog(node: "connector", minimum: .error)
        let dir = cluster.dir + "/conn-\(tunnel.id)"
        let identity = try ConnectorEnrolment.enrol(tunnel.url, name: "edge", stateDir: dir, log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: dir, log: log)
        runtimes.append(runtime)
        let ended = BlockingResult<String>()
        Thread.detachNewThread { ended.set(runtime.run()) }
        return (runtime, ended)
    }

    /// The node `asking` believes holds the tunnel's connector session (online), or nil.
    func holder(of tunnel: Tunnel, asking: String) -> String? {
        guard let response = try? cluster.call(asking, "GET", "/v1/connectors?tunnel=\(tunnel.id)", timeoutMillis: 1000),
            let list = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [[String: Any]]
        else { return nil }
        return list.first { $0["status"] as? String == "online" }?["node"] as? String
    }

    /// The cluster-wide session list as `asking` answers it.
    func sessions(asking: String, tunnel: String? = nil) -> (sessions: [[String: Any]], nodes: [[String: Any]])? {
        let path = "/v1/sessions" + (tunnel.map { "?tunnel=\($0)" } ?? "")
        guard let response = try? cluster.call(asking, "GET", path, timeoutMillis: 5000), response.status == .ok else {
            return nil
        }
        let object = cluster.json(response)
        return (object["sessions"] as? [[String: Any]] ?? [], object["nodes"] as? [[String: Any]] ?? [])
    }
}

/// A client connection kept open through a mapping: `echoes()` sends a few bytes and
/// checks they come back; `isClosedByPeer()` polls for the server's end.
final class HeldClient {
    let fd: Int32

    init(host: String, port: UInt16) throws {
        fd = try connectTCP(host: host, port: port, receiveTimeoutSeconds: 3)
    }

    deinit { close(fd) }

    /// Sends 16 bytes and reads them back; false on any failure or mismatch.
    func echoes() -> Bool {
        let payload = (0..<16).map { _ in UInt8.random(in: 0...255) }
        guard payload.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == payload.count else { return false }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while received.count < payload.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return false }
            received += buffer[0..<n]
        }
        return received == payload
    }

    /// True once the other end closed the connection (EOF or reset), without blocking.
    func isClosedByPeer() -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n <= 0
    }
}
