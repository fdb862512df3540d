import Testing

@testable import Node

@Suite("Control state: queries")
struct ControlStateQueryTests {
    @Test func listsAreSortedAndFilteredAndHideSecrets() {
        let h = Harness()
        h.ok(h.createTunnel("tb", token: "b", duration: 60), TunnelRecord.self)
        h.ok(h.createTunnel("ta", token: "a", duration: 120), TunnelRecord.self)
        h.ok(h.createTunnel("tc", token: "c", duration: 30), TunnelRecord.self)
        h.ok(.tunnelClose(.init(id: "tc", reason: .admin)), TunnelRecord.self)
        h.ok(
            .mappingAdd(.init(id: "m2", tunnelId: "ta", kind: .expose, target: "a:1", listenPort: 1, allow: [])),
            MappingRecord.self)
        h.ok(
            .mappingAdd(.init(id: "m1", tunnelId: "tb", kind: .expose, target: "a:1", listenPort: 2, allow: [])),
            MappingRecord.self)
        h.ok(.userAdd(.init(name: "zoe", role: .auditor, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.ok(.userAdd(.init(name: "amy", role: .admin, passwordHash: testPasswordHash)), ControlState.UserView.self)
        let s = h.state
        #expect(s.tunnelList.map(\.id) == ["ta", "tb", "tc"])
        #expect(s.mappingList().map(\.id) == ["m1", "m2"])
        #expect(s.mappingList(tunnelId: "ta").map(\.id) == ["m2"])
        #expect(s.userList.map(\.name) == ["amy", "zoe"])
        #expect(s.dueTunnelIds(nowMs: t0 + 60_000) == ["tb"])
        #expect(s.dueTunnelIds(nowMs: t0 + 120_000) == ["ta", "tb"])
        #expect(s.tunnelIsLive("ta", nowMs: t0 + 119_999))
        #expect(!s.tunnelIsLive("ta", nowMs: t0 + 120_000))
        #expect(!s.tunnelIsLive("tc", nowMs: t0) && !s.tunnelIsLive("zz", nowMs: t0))
        #expect(!s.isRevoked(serial: "AB"))
    }
}

@Suite("Control state: audit of refusals")
struct ControlStateRefusalAuditTests {
    @Test func refusalsNameTheirObjectButNeverAMalformedId() {
        let h = Harness()
        h.refused(.tunnelClose(.init(id: "t404", reason: .admin)), .notFound)
        #expect(h.state.audit.records.last?.object == "tunnel/t404")
        h.refused(.tunnelClose(.init(id: "bad id\n", reason: .admin)), .notFound)
        #expect(h.state.audit.records.last?.object == "tunnel/?")
        h.refused(.trustRevokeSerial(.init(serial: "zz")), .invalidValue)
        #expect(h.state.audit.records.last?.object == "serial/zz")
    }
}
