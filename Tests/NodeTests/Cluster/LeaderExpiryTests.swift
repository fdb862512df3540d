import Foundation
import Testing

@testable import Node

/// The leader closes expired tunnels through a committed `tunnel.expire`, scanning the
/// tunnels only when one may be due (`NodeServer.nextExpiryMs`).
@Suite("Leader duties: tunnel expiry")
struct LeaderExpiryTests {
    func create(_ node: TestNode, _ name: String, _ duration: String) throws -> String {
        let created = try node.call(
            "POST", "/v1/tunnels", body: #"{"name":"\#(name)","duration":"\#(duration)"}"#, as: .adminCertificate)
        #expect(created.status.code == 201)
        return try #require((node.json(created)["tunnel"] as? [String: Any])?["id"] as? String)
    }

    func state(_ node: TestNode, _ id: String) throws -> String? {
        let shown = node.json(try node.call("GET", "/v1/tunnels/\(id)", as: .adminCertificate))
        return (shown["tunnel"] as? [String: Any])?["state"] as? String
    }

    @Test func aShortTunnelCreatedAfterALongOneStillExpiresOnTime() throws {
        let node = try TestNode()
        let long = try create(node, "long", "24h")
        // Wait for a scan that saw only the long tunnel: nothing is due for a day.
        let inAnHour = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        try waitUntil("the leader's scan found nothing due soon") {
            node.server.raft.onLoopBlocking { node.server.nextExpiryMs } > inAnHour
        }
        // A creation lowers the bound, so the short tunnel is closed within its time.
        let short = try create(node, "short", "2s")
        try waitUntil("the short tunnel expired", seconds: 10) { (try? state(node, short)) == "closed" }
        #expect(try state(node, long) == "open")
    }
}
