import Consensus
import Testing
import Tunnel

@testable import Node

/// A fixed start time for state tests: 2026-11-23T00:00:00Z in ms.
let t0: Int64 = 1_795_392_000_000
let admin = Principal(.adminCert, "cert:admin")
let node1 = Principal(.node, "n1")

/// The SHA-256 hex of a test token.
func tokenHash(_ token: String) -> String { Hex.encode(SHA256.hash(token)) }

/// A tiny state-machine driver for tests: builds commands, applies them as Raft entries,
/// keeps the index.
final class Harness {
    let machine = ControlStateMachine()
    var index: UInt64 = 0
    var now: Int64 = t0
    var entries: [Entry] = []

    var state: ControlState { machine.state }

    @discardableResult
    func run(_ op: ControlOp, as actor: Principal = admin, at: Int64? = nil, source: String = "10.0.0.9:5555")
        -> ControlResult
    {
        let command = ControlCommand(at: at ?? now, actor: actor, node: "n1", source: source, op: op)
        return runBytes(command.encoded())
    }

    @discardableResult
    func runBytes(_ bytes: [UInt8]) -> ControlResult {
        index += 1
        let entry = Entry(term: 1, index: index, data: bytes)
        entries.append(entry)
        let out = machine.apply(entry)
        guard let result = ControlResult.parse(out) else {
            Issue.record("unparseable result \(String(decoding: out, as: UTF8.self))")
            return .error(ControlError(.badCommand, "unparseable"))
        }
        return result
    }

    /// Runs `op` expecting success; returns the decoded object.
    @discardableResult
    func ok<T: Decodable>(
        _ op: ControlOp, as actor: Principal = admin, _ type: T.Type, sourceLocation: SourceLocation = #_sourceLocation
    ) -> T? {
        let result = run(op, as: actor)
        guard case .ok = result else {
            Issue.record("expected ok for \(op.type), got \(result)", sourceLocation: sourceLocation)
            return nil
        }
        return result.object(type)
    }

    /// Runs `op` expecting refusal with `code`; checks the state (audit aside) did not
    /// change and that the refusal was audited with `outcome`.
    func refused(
        _ op: ControlOp, _ code: ControlError.Code, as actor: Principal = admin,
        outcome: AuditRecord.Outcome = .rejected, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = state
        let result = run(op, as: actor)
        guard case .error(let error) = result else {
            Issue.record("expected \(code.rawValue) for \(op.type), got ok", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        var after = state
        #expect(after.audit.records.count == before.audit.records.count + 1, sourceLocation: sourceLocation)
        let last = after.audit.records.last
        #expect(last?.outcome == outcome, sourceLocation: sourceLocation)
        #expect(last?.action == op.type, sourceLocation: sourceLocation)
        #expect(last?.object == op.object, sourceLocation: sourceLocation)
        #expect(last?.detail.hasPrefix(code.rawValue) == true, sourceLocation: sourceLocation)
        after.audit = before.audit
        after.clockMs = before.clockMs
        #expect(after == before, "state changed on a refused \(op.type)", sourceLocation: sourceLocation)
    }

    // Builders for the common objects.
    func createTunnel(_ id: String, token: String = "tok", duration: Int64 = 3600, tokenTTL: Int64 = 600_000)
        -> ControlOp
    {
        .tunnelCreate(
            .init(
                id: id, name: "name-\(id)", durationSeconds: duration, tokenHash: tokenHash(token),
                tokenExpiresAt: now + tokenTTL))
    }

    func enrol(_ tunnelId: String, token: String = "tok", connectorId: String = "c1", serial: String = "0a1b")
        -> ControlOp
    {
        .connectorEnrol(
            .init(
                tunnelId: tunnelId, tokenHash: tokenHash(token), connectorId: connectorId, name: "conn",
                certificateSerial: serial, certificateExpiresAt: now + 86_400_000))
    }
}
