import Foundation
import Testing

@testable import Node

/// Removing a mapping ends its live sessions at once (BRIEF: no traffic to an application
/// that no mapping allows), and only its own: another mapping's session of the same
/// tunnel carries on.
@Suite("Mapping removal ends its live sessions", .serialized)
struct MappingRemovalTests {
    @Test func removingAMappingEndsItsSessionsAndNoOthers() throws {
        let node = try TestNode()
        let echo = try EchoServer()
        let created = node.json(try node.call("POST", "/v1/tunnels", body: #"{"name":"removal"}"#, as: .adminCertificate))
        var url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        url.port = node.port
        let tunnelId = url.tunnelId
        func addMapping(_ port: UInt16) throws -> String {
            let added = try node.call(
                "POST", "/v1/mappings",
                body: #"{"tunnelId":"\#(tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(port)}"#,
                as: .adminCertificate)
            #expect(added.status.code == 201)
            return try #require(node.json(added)["id"] as? String)
        }
        let removedPort = try ProcessCluster.freePort()
        let keptPort = try ProcessCluster.freePort()
        let removed = try addMapping(removedPort)
        _ = try addMapping(keptPort)

        let log = NodeLog(node: "connector", minimum: .error)
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: node.dir + "/conn", log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: node.dir + "/conn", log: log)
        Thread.detachNewThread { _ = runtime.run() }
        defer { runtime.stop(reason: "test over") }
        try waitUntil("the connector's session is up") { node.server.hub.sessionCount(tunnelId: tunnelId) == 1 }

        // One live client on each mapping, each answered once.
        let doomed = try connectTCP(host: "127.0.0.1", port: removedPort)
        defer { close(doomed) }
        let survivor = try connectTCP(host: "127.0.0.1", port: keptPort)
        defer { close(survivor) }
        #expect(try echoOnce(doomed, [1, 2, 3]) == [1, 2, 3])
        #expect(try echoOnce(survivor, [4, 5, 6]) == [4, 5, 6])

        let answer = try node.call("DELETE", "/v1/mappings/\(removed)", as: .adminCertificate)
        #expect(answer.status == .ok)

        // The removed mapping's client is cut off: its socket reaches its end (a read of 0
        // or a reset), without waiting for the client to send.
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { read(doomed, $0.baseAddress, $0.count) }
        let error = errno
        #expect(n == 0 || (n < 0 && error != EAGAIN && error != EWOULDBLOCK),
                "the removed mapping's session is still open (read \(n), errno \(error))")
        #expect(throws: CommandError.self) { try roundTrip(port: removedPort, [7]) }
        // The other mapping's session is untouched.
        #expect(try echoOnce(survivor, [8, 9]) == [8, 9])

        // The end is in the audit with its reason.
        try waitUntil("the close is audited with its reason") {
            let page = node.json((try? node.call("GET", "/v1/audit?limit=1000", as: .adminCertificate)) ?? .init(status: 500))
            let records = page["records"] as? [[String: Any]] ?? []
            return records.contains {
                $0["action"] as? String == "session.close" && ($0["detail"] as? String ?? "").contains("mapping removed")
            }
        }
    }

    /// Writes `bytes` and reads as many back.
    private func echoOnce(_ fd: Int32, _ bytes: [UInt8]) throws -> [UInt8] {
        let sent = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard sent == bytes.count else { throw CommandError("write failed") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while received.count < bytes.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw CommandError("connection ended after \(received.count) bytes") }
            received += buffer[0..<n]
        }
        return received
    }
}
