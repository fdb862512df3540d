import Testing

@testable import Node

@Suite("Control state: tunnels and connect tokens")
struct ControlStateTunnelTests {
    @Test func createReturnsAnOpenTunnelOwnedByTheActorWithItsExpiry() throws {
        let h = Harness()
        let tunnel = try #require(h.ok(h.createTunnel("t1", duration: 86_400), TunnelRecord.self))
        #expect(tunnel.state == .open)
        #expect(tunnel.owner == "cert:admin")
        #expect(tunnel.createdAt == t0 && tunnel.expiresAt == t0 + 86_400_000)
        #expect(h.state.tokens["t1"]?.tokenHash == tokenHash("tok"))
        let record = try #require(h.state.audit.records.last)
        #expect(record.action == "tunnel.create" && record.object == "tunnel/t1" && record.outcome == .ok)
        #expect(record.source == "10.0.0.9:5555" && record.node == "n1" && record.actor == admin)
    }

    @Test func createRefusesEveryInvalidField() {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        func create(
            id: String = "t2", name: String = "ok", duration: Int64 = 60, hash: String = tokenHash("x"),
            tokenExpiresAt: Int64 = t0 + 1000
        ) -> ControlOp {
            .tunnelCreate(
                .init(id: id, name: name, durationSeconds: duration, tokenHash: hash, tokenExpiresAt: tokenExpiresAt))
        }
        h.refused(create(id: "t1"), .alreadyExists)
        h.refused(create(id: ""), .invalidValue)
        h.refused(create(name: ""), .invalidValue)
        h.refused(create(name: String(repeating: "a", count: 65)), .invalidValue)
        h.refused(create(name: "has space"), .invalidValue)
        h.refused(create(name: "naïve"), .invalidValue)
        h.refused(create(duration: 0), .invalidValue)
        h.refused(create(duration: -5), .invalidValue)
        h.refused(create(duration: ControlState.tunnelDurationMaxSecondsDefault + 1), .invalidValue)
        h.refused(create(hash: "abc"), .invalidValue)
        h.refused(create(hash: tokenHash("x").uppercased()), .invalidValue)
        h.refused(create(tokenExpiresAt: t0), .invalidValue)
        h.ok(create(name: "a.b_c-D9", duration: ControlState.tunnelDurationMaxSecondsDefault), TunnelRecord.self)
    }

    @Test func theClusterMaximumDurationIsASetting() {
        let h = Harness()
        h.ok(.settingsSet(.init(tunnelDurationMaxSeconds: 3600)), ControlState.SettingsView.self)
        h.refused(h.createTunnel("t1", duration: 3601), .invalidValue)
        h.ok(h.createTunnel("t1", duration: 3600), TunnelRecord.self)
        h.refused(.settingsSet(.init(tunnelDurationMaxSeconds: 10)), .invalidValue)
    }

    @Test func aClosedTunnelNeverReopensAndClosingTwiceIsAlreadyClosed() throws {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        let closed = try #require(h.ok(.tunnelClose(.init(id: "t1", reason: .admin)), TunnelRecord.self))
        #expect(closed.state == .closed && closed.closeReason == .admin && closed.closedBy == "cert:admin")
        h.refused(.tunnelClose(.init(id: "t1", reason: .revocation)), .alreadyClosed)
        h.refused(h.createTunnel("t1"), .alreadyExists)
        h.refused(.tunnelExpire(.init(ids: ["t1"])), .forbidden, as: Principal(.user, "nobody"), outcome: .denied)
        h.now += 10 * 3_600_000
        h.ok(.tunnelExpire(.init(ids: ["t1"])), as: node1, ControlState.ExpireResult.self)
        #expect(h.state.tunnels["t1"]?.closeReason == .admin)
        #expect(h.state.tunnels["t1"]?.state == .closed)
        h.refused(.tunnelClose(.init(id: "nope", reason: .admin)), .notFound)
    }

    @Test func expiryClosesOnlyTheTunnelsThatAreDue() throws {
        let h = Harness()
        h.ok(h.createTunnel("short", duration: 60), TunnelRecord.self)
        h.ok(h.createTunnel("long", duration: 3600), TunnelRecord.self)
        h.ok(h.createTunnel("gone", duration: 60), TunnelRecord.self)
        h.ok(.tunnelClose(.init(id: "gone", reason: .admin)), TunnelRecord.self)
        h.now = t0 + 60_000  // exactly short's expiresAt: due (expiresAt <= at)
        let result = try #require(
            h.ok(
                .tunnelExpire(.init(ids: ["short", "long", "gone", "unknown"])), as: node1,
                ControlState.ExpireResult.self))
        #expect(result.closed.map(\.id) == ["short"])
        #expect(result.skipped == ["long", "gone", "unknown"])
        #expect(h.state.tunnels["short"]?.closeReason == .expiry)
        #expect(h.state.tunnels["long"]?.state == .open)
        #expect(h.state.tunnels["gone"]?.closeReason == .admin)
        #expect(h.state.audit.records.last?.object == "tunnel/short")
    }

    @Test func expiryIsANodeOnlyOperation() {
        let h = Harness()
        h.ok(.userAdd(.init(name: "op", role: .operator, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.refused(.tunnelExpire(.init(ids: [])), .forbidden, as: Principal(.user, "op"), outcome: .denied)
        h.refused(.tunnelExpire(.init(ids: [])), .forbidden, as: Principal(.connector, "c1"), outcome: .denied)
    }

    @Test func enrolmentBurnsTheTokenOnce() throws {
        let h = Harness()
        h.ok(h.createTunnel("t1", token: "secret-token"), TunnelRecord.self)
        let connector = try #require(
            h.ok(
                h.enrol("t1", token: "secret-token", serial: "0A1B"), as: Principal(.connector, "c1"),
                ConnectorRecord.self))
        #expect(connector.certificateSerial == "0a1b" && connector.tunnelId == "t1" && connector.status == .enrolled)
        #expect(h.state.tokens["t1"]?.usedAt == t0 && h.state.tokens["t1"]?.usedBy == "c1")
        h.refused(h.enrol("t1", token: "secret-token", connectorId: "c2"), .invalidToken)
    }

    @Test func enrolmentRefusesWrongExpiredOrClosedAndUnknown() {
        let h = Harness()
        h.ok(h.createTunnel("t1", token: "right", tokenTTL: 1000), TunnelRecord.self)
        h.refused(h.enrol("t1", token: "wrong"), .invalidToken)
        h.refused(h.enrol("t9", token: "right"), .notFound)
        h.refused(h.enrol("t1", token: "right", serial: "xyz"), .invalidValue)
        h.refused(h.enrol("t1", token: "right", connectorId: "bad id"), .invalidValue)
        h.refused(h.enrol("t1", token: "right"), .forbidden, as: Principal(.user, "someone"), outcome: .denied)
        h.now += 1000
        h.refused(h.enrol("t1", token: "right"), .invalidToken)
        h.now = t0
        h.ok(h.createTunnel("t2", token: "two"), TunnelRecord.self)
        h.ok(.tunnelClose(.init(id: "t2", reason: .admin)), TunnelRecord.self)
        h.refused(h.enrol("t2", token: "two"), .tunnelClosed)
    }

    @Test func enrolmentRefusesADuplicateConnectorOrARevokedSerial() {
        let h = Harness()
        h.ok(h.createTunnel("t1", token: "a"), TunnelRecord.self)
        h.ok(h.createTunnel("t2", token: "b"), TunnelRecord.self)
        h.ok(h.enrol("t1", token: "a", connectorId: "c1"), ConnectorRecord.self)
        h.refused(h.enrol("t2", token: "b", connectorId: "c1"), .alreadyExists)
        h.ok(.trustRevokeSerial(.init(serial: "ff")), TrustBundle.self)
        h.refused(h.enrol("t2", token: "b", connectorId: "c2", serial: "FF"), .revoked)
    }

    @Test func theStateClockNeverGoesBackwards() throws {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        let earlier = h.run(h.createTunnel("t2"), at: t0 - 50_000)
        let tunnel = try #require(earlier.object(TunnelRecord.self))
        #expect(tunnel.createdAt == t0)
        #expect(h.state.clockMs == t0)
    }
}

/// A valid, cheap password hash (N = 16) for tests that only need a user to exist.
let testPasswordHash =
    (try? PasswordHash.make(password: "pw", salt: Array(repeating: 7, count: 16), n: 16, r: 1, p: 1))
    ?? ""
