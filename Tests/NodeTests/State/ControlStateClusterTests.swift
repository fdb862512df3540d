import Testing
import Tunnel

@testable import Node

@Suite("Control state: connectors, members, users and secrets")
struct ControlStateClusterTests {
    private func enrolled() -> Harness {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        h.ok(h.enrol("t1", serial: "aa01"), ConnectorRecord.self)
        return h
    }

    @Test func connectorStatusRenewAndRevoke() throws {
        let h = enrolled()
        let online = try #require(
            h.ok(.connectorStatus(.init(id: "c1", status: .online, node: "n2")), as: node1, ConnectorRecord.self))
        #expect(online.status == .online && online.node == "n2" && online.statusAt == t0)
        let renewed = try #require(
            h.ok(
                .connectorRenew(.init(id: "c1", certificateSerial: "AA02", certificateExpiresAt: t0 + 5000)), as: node1,
                ConnectorRecord.self))
        #expect(renewed.certificateSerial == "aa02")
        let revoked = try #require(h.ok(.connectorRevoke(.init(id: "c1")), ConnectorRecord.self))
        #expect(revoked.revoked && revoked.revokedAt == t0)
        #expect(h.state.trust.revokedSerials == ["aa02"])
        #expect(h.state.tunnels["t1"]?.state == .open)  // revocation closes nothing by itself
        #expect(h.state.audit.records.last?.action == "connector.revoke")
        h.refused(.connectorRevoke(.init(id: "c1")), .alreadyRevoked)
        h.refused(.connectorStatus(.init(id: "c1", status: .online, node: "n2")), .revoked, as: node1)
        h.ok(.connectorStatus(.init(id: "c1", status: .offline, node: "n2")), as: node1, ConnectorRecord.self)
        h.refused(
            .connectorRenew(.init(id: "c1", certificateSerial: "aa03", certificateExpiresAt: t0 + 5000)), .revoked,
            as: node1)
    }

    @Test func connectorRefusals() {
        let h = enrolled()
        h.refused(.connectorStatus(.init(id: "zz", status: .online, node: "n1")), .notFound, as: node1)
        h.refused(.connectorStatus(.init(id: "c1", status: .enrolled, node: "n1")), .invalidValue, as: node1)
        h.refused(.connectorStatus(.init(id: "c1", status: .online, node: "bad node")), .invalidValue, as: node1)
        h.refused(.connectorRevoke(.init(id: "zz")), .notFound)
        h.refused(
            .connectorRenew(.init(id: "c1", certificateSerial: "zz", certificateExpiresAt: t0 + 1)), .invalidValue,
            as: node1)
        h.refused(
            .connectorRenew(.init(id: "c1", certificateSerial: "ab", certificateExpiresAt: t0)), .invalidValue,
            as: node1)
        h.ok(.trustRevokeSerial(.init(serial: "ab")), TrustBundle.self)
        h.refused(
            .connectorRenew(.init(id: "c1", certificateSerial: "ab", certificateExpiresAt: t0 + 1)), .revoked,
            as: node1)
    }

    @Test func membersDirectory() throws {
        let h = Harness()
        let m = try #require(
            h.ok(
                .memberSet(
                    .init(
                        id: "n1", raftId: 1, peerAddress: "127.0.0.1:7451", apiAddress: "127.0.0.1:7441",
                        mappingHost: "127.0.0.1")), as: node1, MemberRecord.self))
        #expect(m.raftId == 1 && m.updatedAt == t0)
        h.ok(
            .memberSet(
                .init(
                    id: "n1", raftId: 1, peerAddress: "[::1]:7451", apiAddress: "localhost:7441",
                    mappingHost: "::1")), MemberRecord.self)
        #expect(h.state.members["n1"]?.peerAddress == "[::1]:7451")
        h.refused(
            .memberSet(.init(id: "n2", raftId: 1, peerAddress: "a:1", apiAddress: "a:2", mappingHost: "127.0.0.2")),
            .alreadyExists)
        h.refused(
            .memberSet(.init(id: "n2", raftId: 0, peerAddress: "a:1", apiAddress: "a:2", mappingHost: "127.0.0.2")),
            .invalidValue)
        h.refused(
            .memberSet(.init(id: "n2", raftId: 2, peerAddress: "a", apiAddress: "a:2", mappingHost: "127.0.0.2")),
            .invalidValue)
        h.refused(
            .memberSet(.init(id: "n2", raftId: 2, peerAddress: "a:1", apiAddress: "a:2", mappingHost: "host")),
            .invalidValue)
        // A node may register only itself.
        h.refused(
            .memberSet(.init(id: "n2", raftId: 2, peerAddress: "a:1", apiAddress: "a:2", mappingHost: "127.0.0.2")),
            .forbidden, as: node1, outcome: .denied)
        h.ok(.memberRemove(.init(id: "n1")), MemberRecord.self)
        h.refused(.memberRemove(.init(id: "n1")), .notFound)
    }

    @Test func usersAndTheLastAdmin() throws {
        let h = Harness()
        let view = try #require(
            h.ok(
                .userAdd(.init(name: "alice", role: .admin, passwordHash: testPasswordHash)), ControlState.UserView.self
            ))
        #expect(view.role == .admin && view.createdBy == "cert:admin")
        h.ok(.userAdd(.init(name: "bob", role: .operator, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.refused(.userAdd(.init(name: "bob", role: .auditor, passwordHash: testPasswordHash)), .alreadyExists)
        h.refused(.userAdd(.init(name: "c d", role: .auditor, passwordHash: testPasswordHash)), .invalidValue)
        h.refused(.userAdd(.init(name: "carol", role: .auditor, passwordHash: "plaintext")), .invalidValue)
        h.refused(.userRemove(.init(name: "alice")), .lastAdmin)
        h.refused(.userRemove(.init(name: "zed")), .notFound)
        h.ok(.userRemove(.init(name: "bob")), ControlState.UserView.self)
        h.ok(.userAdd(.init(name: "root", role: .admin, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.ok(.userRemove(.init(name: "alice")), as: Principal(.user, "root"), ControlState.UserView.self)
        // An operator may not manage users; a deleted user may do nothing.
        h.ok(.userAdd(.init(name: "op", role: .operator, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.refused(
            .userAdd(.init(name: "x", role: .admin, passwordHash: testPasswordHash)), .forbidden,
            as: Principal(.user, "op"), outcome: .denied)
        h.refused(h.createTunnel("t1"), .forbidden, as: Principal(.user, "alice"), outcome: .denied)
    }

    @Test func jwtRotationAndSerialRevocation() throws {
        let h = Harness()
        let key = Base64URL.encode(Array(repeating: 9, count: 32))
        let view = try #require(h.ok(.jwtRotate(.init(keyId: "k1", keyB64: key)), ControlState.JWTKeyView.self))
        #expect(view.keyId == "k1" && h.state.jwtKey?.keyB64 == key)
        h.refused(.jwtRotate(.init(keyId: "k1", keyB64: key)), .alreadyExists)
        h.refused(.jwtRotate(.init(keyId: "k2", keyB64: Base64URL.encode([1, 2, 3]))), .invalidValue)
        h.refused(.jwtRotate(.init(keyId: "k2", keyB64: "not base64!")), .invalidValue)
        h.ok(
            .jwtRotate(.init(keyId: "k2", keyB64: Base64URL.encode(Array(repeating: 8, count: 64)))),
            ControlState.JWTKeyView.self)
        #expect(h.state.jwtKey?.keyId == "k2")
        h.ok(.trustRevokeSerial(.init(serial: "0F")), TrustBundle.self)
        h.ok(.trustRevokeSerial(.init(serial: "01")), TrustBundle.self)
        #expect(h.state.trust.revokedSerials == ["01", "0f"])
        h.refused(.trustRevokeSerial(.init(serial: "0f")), .alreadyRevoked)
        h.refused(.trustRevokeSerial(.init(serial: "xyz")), .invalidValue)
    }

    @Test func passwordHashesVerifyAndRefuseTheWrongPassword() throws {
        let salt = Array(repeating: UInt8(3), count: 16)
        let encoded = try PasswordHash.make(password: "correct horse", salt: salt, n: 1024, r: 8, p: 1)
        #expect(encoded.hasPrefix("scrypt$1024$8$1$"))
        #expect(PasswordHash.verify(password: "correct horse", encoded: encoded))
        #expect(!PasswordHash.verify(password: "correct horsE", encoded: encoded))
        #expect(!PasswordHash.verify(password: "x", encoded: "scrypt$1024$8$1$$"))
        #expect(PasswordHash.parse(encoded)?.n == 1024)
        #expect(PasswordHash.parse("scrypt$3$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA") == nil)
        #expect(PasswordHash.parse("scrypt$1099511627776$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA") == nil)
        #expect(throws: CryptoError.self) { try PasswordHash.make(password: "p", salt: [1]) }
    }

    @Test func theDefaultPasswordHashUsesN32768() throws {
        let encoded = try PasswordHash.make(password: "pw", salt: Array(repeating: 1, count: 16))
        #expect(encoded.hasPrefix("scrypt$32768$8$1$"))
        #expect(PasswordHash.verify(password: "pw", encoded: encoded))
    }
}

@Suite("Control state: trust bundle CAs")
struct ControlStateTrustTests {
    private static let pemA = "-----BEGIN CERTIFICATE-----\nMIIBAAA=\n-----END CERTIFICATE-----\n"
    private static let pemB = "-----BEGIN CERTIFICATE-----\nMIIBBBB=\n-----END CERTIFICATE-----\n"

    @Test func setCAsReplacesTheListForARotation() throws {
        let h = Harness()
        #expect(h.state.trust.caPEMs.isEmpty)
        h.ok(.trustSetCAs(.init(caPEMs: [Self.pemA, Self.pemB])), TrustBundle.self)
        #expect(h.state.trust.caPEMs == [Self.pemA, Self.pemB])
        let bundle = try #require(h.ok(.trustSetCAs(.init(caPEMs: [Self.pemB])), TrustBundle.self))
        #expect(bundle.caPEMs == [Self.pemB])
        #expect(h.state.audit.records.last?.object == "trust")
    }

    @Test func setCAsRefusesWhatIsNotOneCertificateBlock() {
        let h = Harness()
        let key = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
        for bad in [
            [], [key], [Self.pemA, Self.pemA], ["junk"], [Self.pemA.replacingOccurrences(of: "\n", with: "\r\n")],
        ] {
            h.refused(.trustSetCAs(.init(caPEMs: bad)), .invalidValue)
        }
        h.refused(.trustSetCAs(.init(caPEMs: Array(repeating: Self.pemA, count: 9))), .invalidValue)
        h.ok(.userAdd(.init(name: "op", role: .operator, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.refused(.trustSetCAs(.init(caPEMs: [Self.pemA])), .forbidden, as: Principal(.user, "op"), outcome: .denied)
    }
}
