import Consensus
import Testing
import Tunnel

@testable import Node

/// A full scenario touching every op, with the secrets it used, for the determinism,
/// snapshot and secret-scan tests.
private struct Scenario {
    let token = "CONNECT-TOKEN-s3cr3t-7f1d9a"
    let password = "PASSWORD-hunter2-xyzzy"
    let jwtKey = Array("JWT-KEY-MATERIAL-0123456789abcdef!!".utf8)
    let passwordHash: String

    init() throws {
        passwordHash = try PasswordHash.make(
            password: password, salt: Array("salt-salt-salt-1".utf8), n: 16, r: 1, p: 1)
    }

    var secrets: [String] {
        [
            token, tokenHash(token), password, passwordHash, Base64URL.encode(jwtKey),
            String(decoding: jwtKey, as: UTF8.self),
        ]
    }

    /// The commands, as bytes, each with its own time.
    func commands() -> [[UInt8]] {
        var at = t0
        func cmd(_ op: ControlOp, _ actor: Principal = admin) -> [UInt8] {
            at += 1000
            return ControlCommand(at: at, actor: actor, node: "n2", source: "192.0.2.7:40000", op: op).encoded()
        }
        let user = Principal(.user, "olivia")
        return [
            cmd(
                .memberSet(
                    .init(
                        id: "n1", raftId: 1, peerAddress: "127.0.0.1:7451", apiAddress: "127.0.0.1:7441",
                        mappingHost: "127.0.0.1"))),
            cmd(.jwtRotate(.init(keyId: "k1", keyB64: Base64URL.encode(jwtKey))), Principal(.system, "bootstrap")),
            cmd(.userAdd(.init(name: "olivia", role: .operator, passwordHash: passwordHash))),
            cmd(.userAdd(.init(name: "olivia", role: .operator, passwordHash: passwordHash))),  // rejected
            cmd(
                .tunnelCreate(
                    .init(
                        id: "t1", name: "vendor", durationSeconds: 60, tokenHash: tokenHash(token),
                        tokenExpiresAt: t0 + 3_600_000)), user),
            cmd(
                .connectorEnrol(
                    .init(
                        tunnelId: "t1", tokenHash: tokenHash(token), connectorId: "c1", name: "vpc-conn",
                        certificateSerial: "01ab", certificateExpiresAt: t0 + 86_400_000)), Principal(.connector, "c1")),
            cmd(
                .connectorEnrol(
                    .init(
                        tunnelId: "t1", tokenHash: tokenHash(token), connectorId: "c2", name: "again",
                        certificateSerial: "01ac", certificateExpiresAt: t0 + 86_400_000)), Principal(.connector, "c2")),
            cmd(
                .mappingAdd(
                    .init(
                        id: "m1", tunnelId: "t1", kind: .expose, target: "10.0.0.5:5432", listenPort: 15432,
                        allow: ["0.0.0.0/0"])), user),
            cmd(
                .endpointCreate(
                    .init(id: "e1", name: "scope", connectorId: "c1", vpc: "vpc-1", subnets: ["10.0.0.0/16"])), user),
            cmd(.endpointAssociate(.init(id: "e1", subnets: ["10.9.0.0/16"])), user),
            cmd(
                .forwardAdd(.init(id: "f1", endpointId: "e1", kind: .local, listenPort: 2222, target: "10.0.0.5:22")),
                user),
            cmd(.endpointDelete(.init(id: "e1")), user),  // rejected: has rules
            cmd(.connectorStatus(.init(id: "c1", status: .online, node: "n1")), node1),
            cmd(
                .auditAppend(
                    .init(records: [
                        .init(
                            at: at, actor: user, source: "192.0.2.7:1", action: "login", object: "user/olivia",
                            outcome: .ok, detail: "")
                    ])), node1),
            cmd(.userRemove(.init(name: "olivia")), user),  // denied
            cmd(.tunnelExpire(.init(ids: ["t1"])), node1),  // not due yet
            cmd(.connectorRevoke(.init(id: "c1"))),
            cmd(.trustRevokeSerial(.init(serial: "ffee"))),
            cmd(.trustSetCAs(.init(caPEMs: ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"]))),
            cmd(.jwtRotate(.init(keyId: "k2", keyB64: Base64URL.encode(Array(jwtKey.reversed()))))),
            cmd(.settingsSet(.init(tunnelDurationMaxSeconds: 86_400 * 2))),
            cmd(.forwardRemove(.init(id: "f1")), user),
            cmd(.endpointUnassociate(.init(id: "e1", vpc: "vpc-1", subnets: [])), user),
            cmd(.mappingRemove(.init(id: "m1")), user),
            cmd(.tunnelClose(.init(id: "t1", reason: .revocation)), user),
            cmd(.endpointDelete(.init(id: "e1")), user),
            cmd(.memberDrain(.init(id: "n1", draining: true))),
            cmd(.memberHealth(.init(id: "n1", alive: false))),
            cmd(.memberRemove(.init(id: "n1"))),
            cmd(.userUpdate(.init(name: "olivia", role: .auditor, passwordHash: passwordHash))),
        ]
    }
}

private func machine(applying commands: [[UInt8]]) -> (ControlStateMachine, [[UInt8]]) {
    let machine = ControlStateMachine()
    var results: [[UInt8]] = []
    for (i, data) in commands.enumerated() {
        results.append(machine.apply(Entry(term: 1, index: UInt64(i + 1), data: data)))
    }
    return (machine, results)
}

@Suite("Control state: determinism, snapshots, hostile input, secrets")
struct ControlStateDeterminismTests {
    @Test func twoMachinesApplyingTheSameEntriesHaveIdenticalSnapshots() throws {
        let commands = try Scenario().commands()
        let (a, resultsA) = machine(applying: commands)
        let (b, resultsB) = machine(applying: commands)
        #expect(a.snapshot() == b.snapshot())
        #expect(resultsA == resultsB)
        #expect(a.state.audit.verify() == nil)
        // Sanity: the scenario reached the states it meant to.
        let outcomes = a.state.audit.records.map(\.outcome)
        #expect(outcomes.contains(.rejected) && outcomes.contains(.denied) && outcomes.contains(.ok))
        #expect(a.state.tunnels["t1"]?.closeReason == .revocation)
        #expect(a.state.endpoints.isEmpty && a.state.members.isEmpty)
        #expect(a.appliedIndex == UInt64(commands.count))
    }

    /// The snapshot's shape, encoded by Foundation for comparison.
    private struct ReferenceSnapshot: Encodable {
        var v: Int
        var state: ControlState
    }

    @Test func snapshotsAndCommandsAreJSONEncodersBytesAfterEveryStep() throws {
        let commands = try Scenario().commands()
        let machine = ControlStateMachine()
        for (i, data) in commands.enumerated() {
            _ = machine.apply(Entry(term: 1, index: UInt64(i + 1), data: data))
            let reference = CanonicalJSON.foundationEncode(
                ReferenceSnapshot(v: ControlStateMachine.snapshotVersion, state: machine.state))
            #expect(machine.snapshot() == reference, "snapshot after command \(i + 1)")
            let command = try #require(ControlCommand.decode(data))
            #expect(try CanonicalJSONEncoder.encode(command) == CanonicalJSON.foundationEncode(command))
        }
        // The scenario passed through every kind of object on its way.
        #expect(machine.state.audit.records.count > 20)
    }

    @Test func snapshotThenRestoreIsIdentical() throws {
        let commands = try Scenario().commands()
        let (a, _) = machine(applying: commands)
        let bytes = a.snapshot()
        let b = ControlStateMachine()
        try b.restore(bytes, metadata: SnapshotMetadata(index: 27, term: 1))
        #expect(b.state == a.state)
        #expect(b.snapshot() == bytes)
        #expect(b.appliedIndex == 27)
        // Both keep going identically.
        let next = ControlCommand(
            at: t0 + 99_000, actor: admin, node: "n1", source: "", op: .userRemove(.init(name: "nobody")))
        #expect(
            a.apply(Entry(term: 1, index: 28, data: next.encoded()))
                == b.apply(Entry(term: 1, index: 28, data: next.encoded())))
        #expect(a.snapshot() == b.snapshot())
    }

    @Test func restoreRefusesGarbageAndABrokenAuditChain() throws {
        let (a, _) = machine(applying: try Scenario().commands())
        let m = ControlStateMachine()
        #expect(throws: ControlSnapshotError.self) { try m.restore(Array("nope".utf8), metadata: SnapshotMetadata()) }
        let text = String(decoding: a.snapshot(), as: UTF8.self).replacingOccurrences(of: "vendor", with: "vandal")
        #expect(throws: ControlSnapshotError.self) { try m.restore(Array(text.utf8), metadata: SnapshotMetadata()) }
        #expect(m.state == ControlState())
    }

    @Test func noSecretEverReachesTheAuditLog() throws {
        let scenario = try Scenario()
        let (a, results) = machine(applying: scenario.commands())
        let audit = AuditFormat.jsonLines(a.state.audit.records) + AuditFormat.csv(a.state.audit.records)
        let allResults = results.map { String(decoding: $0, as: UTF8.self) }.joined()
        for secret in scenario.secrets {
            #expect(!audit.contains(secret), "audit leaks \(secret.prefix(12))…")
            #expect(!allResults.contains(secret), "a result leaks \(secret.prefix(12))…")
        }
        #expect(a.state.audit.records.count > 20)
    }

    @Test func garbageNeverCrashesAndNeverChangesState() throws {
        let (m, _) = machine(applying: try Scenario().commands())
        let valid = ControlCommand(
            at: t0, actor: admin, node: "n1", source: "1.2.3.4:5",
            op: .mappingAdd(.init(id: "m9", tunnelId: "t1", kind: .expose, target: "a:1", listenPort: 1, allow: []))
        ).encoded()
        var rng = SplitMix64(seed: 0x5EED_CAFE)
        var index: UInt64 = 1000
        var undecodable = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0: bytes = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // a valid command with bytes flipped, cut or spliced
                bytes = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 2 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            default:  // structurally plausible JSON with wrong types or values
                let pieces = [
                    "{", "}", "[", "]", "\"v\":1", "\"op\":", "\"type\":\"tunnel.close\"", ",", ":", "null",
                    "\"at\":-1", "1e999", "\"\\u0000\"", "\"actor\":{\"kind\":\"root\"}", "99999999999999999999",
                ]
                bytes = Array(
                    (0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined().utf8
                )
            }
            index += 1
            let before = m.state
            let out = m.apply(Entry(term: 1, index: index, data: bytes))
            guard case .error(let error) = ControlResult.parse(out) else {
                Issue.record(
                    "round \(round): garbage applied or unparseable: \(String(decoding: bytes, as: UTF8.self))")
                continue
            }
            var after = m.state
            if error.code == .badCommand {
                #expect(after == before, "round \(round): an undecodable command changed the state")
                undecodable += 1
            } else {
                // Decoded but refused: only the audit record of the refusal and the clock move.
                #expect(after.audit.records.count == before.audit.records.count + 1)
                #expect(after.audit.records.last?.outcome != .ok)
                after.audit = before.audit
                after.clockMs = before.clockMs
                #expect(after == before, "round \(round): a refused command changed the state")
            }
        }
        #expect(undecodable > 2500)
        #expect(m.state.audit.verify() == nil)
    }

    @Test func oversizedCommandsAreRefusedBeforeDecoding() {
        let h = Harness()
        let big = [UInt8](repeating: 0x20, count: ControlCommand.bytesMax + 1)
        #expect(h.runBytes(big) == .error(ControlError(.badCommand, "not a version-1 command")))
        #expect(h.state == ControlState())
    }

    @Test func aWrongVersionOrBadEnvelopeIsABadCommandAndNotAudited() {
        let h = Harness()
        var command = ControlCommand(at: t0, actor: admin, node: "n1", source: "", op: .userRemove(.init(name: "x")))
        command.v = 2
        guard case .error(let e1) = h.runBytes(command.encoded()) else {
            Issue.record("applied")
            return
        }
        #expect(e1.code == .badCommand)
        command.v = 1
        command.node = "bad node"
        guard case .error(let e2) = h.runBytes(command.encoded()) else {
            Issue.record("applied")
            return
        }
        #expect(e2.code == .badCommand)
        command.node = "n1"
        command.actor = Principal(.user, "")
        guard case .error(let e3) = h.runBytes(command.encoded()) else {
            Issue.record("applied")
            return
        }
        #expect(e3.code == .badCommand)
        #expect(h.state == ControlState())
    }

    @Test func everyOpRoundTripsThroughTheWireFormat() throws {
        let commands = try Scenario().commands()
        var types = Set<String>()
        for bytes in commands {
            let command = try #require(ControlCommand.decode(bytes))
            #expect(command.encoded() == bytes)
            types.insert(command.op.type)
        }
        let prune = ControlCommand(at: 1, actor: admin, node: "n1", source: "", op: .auditPrune(.init(throughSeq: 1)))
        let renew = ControlCommand(
            at: 1, actor: admin, node: "n1", source: "",
            op: .connectorRenew(.init(id: "c", certificateSerial: "01", certificateExpiresAt: 2)))
        for command in [prune, renew] {
            #expect(ControlCommand.decode(command.encoded()) == command)
            types.insert(command.op.type)
        }
        #expect(types == Set(ControlOp.allTypes))
        #expect(commands[0].first == ControlCommand.binaryFormat)
        let text = String(decoding: try #require(ControlCommand.decode(commands[0])).encodedJSON(), as: UTF8.self)
        #expect(text.hasPrefix("{\"actor\":{\"kind\":\"admin-cert\",\"name\":\"cert:admin\"},\"at\":"))
        #expect(text.contains("\"op\":{\"apiAddress\":\"127.0.0.1:7441\""))
        #expect(text.contains("\"type\":\"member.set\""))
    }
}

@Suite("Control command: binary log format")
struct ControlCommandBinaryTests {
    @Test func entriesWrittenAsJSONBeforeTheBinaryFormatStillDecode() throws {
        for bytes in try Scenario().commands() {
            let command = try #require(ControlCommand.decode(bytes))
            let json = command.encodedJSON()
            #expect(json.first == UInt8(ascii: "{"))
            #expect(ControlCommand.decode(json) == command)
            // Applying either form gives the same state and result.
            let a = Harness()
            let b = Harness()
            #expect(a.runBytes(bytes) == b.runBytes(json))
            #expect(a.state == b.state)
        }
    }

    @Test func damagedBinaryCommandsAreRefusedWithoutCrashing() throws {
        var rng = SplitMix64(seed: 0xB1_7A_3E)
        var refused = 0
        for bytes in try Scenario().commands() {
            for _ in 0..<200 {
                var damaged = bytes
                switch rng.next() % 3 {
                case 0: damaged = Array(damaged.prefix(1 + Int(rng.next() % UInt64(damaged.count))))
                case 1: damaged[1 + Int(rng.next() % UInt64(damaged.count - 1))] = UInt8(truncatingIfNeeded: rng.next())
                default: damaged.insert(UInt8(truncatingIfNeeded: rng.next()), at: 1 + Int(rng.next() % UInt64(damaged.count - 1)))
                }
                // Any outcome but a trap is fine; a decoded command re-encodes to a valid one.
                if let command = ControlCommand.decode(damaged) {
                    #expect(ControlCommand.decode(command.encoded()) == command)
                } else {
                    refused += 1
                }
            }
        }
        #expect(refused > 0)
    }

    @Test func theDocumentedExampleHasTheDocumentedBytes() throws {
        let command = ControlCommand(
            at: 5, actor: Principal(.node, "n1"), node: "n1", source: "", op: .auditPrune(.init(throughSeq: 3)))
        let hex = command.encoded().map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }
        #expect(hex.joined(separator: " ") == Self.documentedExample)
        #expect(ControlCommand.decode(command.encoded()) == command)
    }

    /// docs/PROTOCOL.md, "Control command in the Raft log".
    static let documentedExample =
        "C1 01 76 02 02 02 61 74 02 0A 05 61 63 74 6F 72 13 04 6B 69 6E 64 05 6E 6F 64 65 04 6E 61 6D 65 03 6E 31 04 6E 6F 64 65 03 6E 31 06 73 6F 75 72 63 65 "
        + "01 02 6F 70 1F 0A 74 68 72 6F 75 67 68 53 65 71 02 03 04 74 79 70 65 0C 61 75 64 69 74 2E 70 72 75 6E 65"

    @Test func optionalsArraysAndNegativeNumbersRoundTrip() throws {
        struct Sample: Codable, Equatable {
            var a: Int64
            var b: String?
            var c: [String?]
            var d: Bool
            var e: UInt64
            var f: Double
            var g: [Int]
        }
        for value in [
            Sample(a: -1, b: nil, c: [], d: false, e: 0, f: 0, g: []),
            Sample(a: .min, b: "", c: [nil, "x", ""], d: true, e: .max, f: -2.5, g: [.min, -1, 0, 1, .max]),
        ] {
            let bytes = try BinaryCodec.encode(value)
            #expect(try BinaryCodec.decode(Sample.self, from: bytes[...]) == value)
        }
    }
}

/// SplitMix64: a tiny seeded generator so the fuzz inputs are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Control state: pathological JSON")
struct ControlStateHostileJSONTests {
    @Test func deeplyNestedJSONIsRefusedWithoutCrashing() {
        let h = Harness()
        for depth in [1_000, 100_000, ControlCommand.bytesMax / 2] {
            let arrays = Array(repeating: UInt8(ascii: "["), count: depth)
            let objects = Array("{\"op\":".utf8).repeated(depth / 6)
            for bytes in [arrays, objects] {
                guard case .error(let error) = h.runBytes(bytes) else {
                    Issue.record("nested input applied")
                    continue
                }
                #expect(error.code == .badCommand)
            }
        }
        #expect(h.state == ControlState())
    }
}

extension Array {
    fileprivate func repeated(_ times: Int) -> [Element] { (0..<times).flatMap { _ in self } }
}
