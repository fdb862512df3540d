import Foundation

/// One replicated command: the versioned envelope the proposing node builds (with the
/// time, actor, node, source address and every random value already filled in) and the
/// operation. In the Raft log it is the byte `0xC1` followed by the envelope in
/// `BinaryCodec`'s form (docs/PROTOCOL.md, "Control command"); the field names are the
/// JSON ones of docs/STATE.md: `{"v":1,"at":ms,"actor":{"kind":…,"name":…},"node":"n1",
/// "source":"ip:port","op":{"type":…,…}}`. Entries written as canonical JSON (the format
/// before the binary one) still decode.
struct ControlCommand: Codable, Equatable, Sendable {
    /// The only envelope version this code reads and writes.
    static let version = 1
    /// Larger commands are refused before decoding.
    static let bytesMax = 1 << 20

    var v: Int
    /// Unix ms on the proposer's clock.
    var at: Int64
    var actor: Principal
    /// The proposing node's id.
    var node: String
    /// The client's address as the node saw it (`ip:port`), or "" for internal actions.
    var source: String
    var op: ControlOp

    init(at: Int64, actor: Principal, node: String, source: String, op: ControlOp) {
        self.v = ControlCommand.version
        self.at = at
        self.actor = actor
        self.node = node
        self.source = source
        self.op = op
    }

    /// The first byte of a binary command. Never the first byte of a JSON text (`{` or
    /// white space), so the two formats are told apart by it.
    static let binaryFormat: UInt8 = 0xC1

    /// The command as bytes for `RaftDriver.propose`: the format byte, then binary.
    func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.binaryFormat]
        if case .auditAppend(let payload) = op {
            // The session audit's batches: the same bytes, written without Codable.
            out += AuditAppendCodec.encode(self, payload)
            return out
        }
        do {
            out += try BinaryCodec.encode(self)
        } catch {
            preconditionFailure("ControlCommand: cannot encode \(op.type): \(error)")  // strings and integers only
        }
        return out
    }

    /// The command as canonical JSON (the log format before the binary one; tests and
    /// documentation).
    func encodedJSON() -> [UInt8] { CanonicalJSON.encode(self) }

    /// Decodes a command, binary or JSON; nil for anything that is not a version-1 command
    /// (garbage included: decoding never traps).
    static func decode(_ bytes: [UInt8]) -> ControlCommand? {
        guard bytes.count <= bytesMax, let first = bytes.first else { return nil }
        let command =
            first == binaryFormat
            ? AuditAppendCodec.decode(bytes[1...]) ?? (try? BinaryCodec.decode(ControlCommand.self, from: bytes[1...]))
            : CanonicalJSON.decode(ControlCommand.self, from: bytes)
        guard let command, command.v == version else { return nil }
        return command
    }
}

/// The operations. The `type` names are the wire format and the audit `action`.
enum ControlOp: Equatable, Sendable {
    case tunnelCreate(OpPayload.TunnelCreate)
    case tunnelClose(OpPayload.TunnelClose)
    case tunnelExpire(OpPayload.TunnelExpire)
    case connectorEnrol(OpPayload.ConnectorEnrol)
    case connectorRenew(OpPayload.ConnectorRenew)
    case connectorStatus(OpPayload.ConnectorStatus)
    case connectorRevoke(OpPayload.ByID)
    case mappingAdd(OpPayload.MappingAdd)
    case mappingRemove(OpPayload.ByID)
    case endpointCreate(OpPayload.EndpointCreate)
    case endpointAssociate(OpPayload.EndpointScope)
    case endpointUnassociate(OpPayload.EndpointScope)
    case endpointDelete(OpPayload.ByID)
    case forwardAdd(OpPayload.ForwardAdd)
    case forwardRemove(OpPayload.ByID)
    case memberSet(OpPayload.MemberSet)
    case memberRemove(OpPayload.ByID)
    case memberDrain(OpPayload.MemberDrain)
    case memberHealth(OpPayload.MemberHealth)
    case userAdd(OpPayload.UserAdd)
    case userRemove(OpPayload.UserRemove)
    case userUpdate(OpPayload.UserUpdate)
    case jwtRotate(OpPayload.JWTRotate)
    case trustRevokeSerial(OpPayload.TrustRevokeSerial)
    case trustSetCAs(OpPayload.TrustSetCAs)
    case settingsSet(OpPayload.SettingsSet)
    case auditAppend(OpPayload.AuditAppend)
    case auditPrune(OpPayload.AuditPrune)

    /// The wire name (`op.type`), also the audit action.
    var type: String {
        switch self {
        case .tunnelCreate: "tunnel.create"
        case .tunnelClose: "tunnel.close"
        case .tunnelExpire: "tunnel.expire"
        case .connectorEnrol: "connector.enrol"
        case .connectorRenew: "connector.renew"
        case .connectorStatus: "connector.status"
        case .connectorRevoke: "connector.revoke"
        case .mappingAdd: "mapping.add"
        case .mappingRemove: "mapping.remove"
        case .endpointCreate: "endpoint.create"
        case .endpointAssociate: "endpoint.associate"
        case .endpointUnassociate: "endpoint.unassociate"
        case .endpointDelete: "endpoint.delete"
        case .forwardAdd: "forward.add"
        case .forwardRemove: "forward.remove"
        case .memberSet: "member.set"
        case .memberRemove: "member.remove"
        case .memberDrain: "member.drain"
        case .memberHealth: "member.health"
        case .userAdd: "user.add"
        case .userRemove: "user.remove"
        case .userUpdate: "user.update"
        case .jwtRotate: "jwt.rotate"
        case .trustRevokeSerial: "trust.revokeSerial"
        case .trustSetCAs: "trust.setCAs"
        case .settingsSet: "settings.set"
        case .auditAppend: "audit.append"
        case .auditPrune: "audit.prune"
        }
    }

    /// Every op type, for docs and tests.
    static let allTypes: [String] = [
        "tunnel.create", "tunnel.close", "tunnel.expire", "connector.enrol", "connector.renew", "connector.status",
        "connector.revoke", "mapping.add", "mapping.remove", "endpoint.create", "endpoint.associate",
        "endpoint.unassociate", "endpoint.delete", "forward.add", "forward.remove", "member.set", "member.remove", "member.drain", "member.health",
        "user.add", "user.remove", "user.update", "jwt.rotate", "trust.revokeSerial", "trust.setCAs", "settings.set", "audit.append",
        "audit.prune",
    ]
}

extension ControlOp: Codable {
    private enum TypeKey: String, CodingKey { case type }

    init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch type {
        case "tunnel.create": self = .tunnelCreate(try .init(from: decoder))
        case "tunnel.close": self = .tunnelClose(try .init(from: decoder))
        case "tunnel.expire": self = .tunnelExpire(try .init(from: decoder))
        case "connector.enrol": self = .connectorEnrol(try .init(from: decoder))
        case "connector.renew": self = .connectorRenew(try .init(from: decoder))
        case "connector.status": self = .connectorStatus(try .init(from: decoder))
        case "connector.revoke": self = .connectorRevoke(try .init(from: decoder))
        case "mapping.add": self = .mappingAdd(try .init(from: decoder))
        case "mapping.remove": self = .mappingRemove(try .init(from: decoder))
        case "endpoint.create": self = .endpointCreate(try .init(from: decoder))
        case "endpoint.associate": self = .endpointAssociate(try .init(from: decoder))
        case "endpoint.unassociate": self = .endpointUnassociate(try .init(from: decoder))
        case "endpoint.delete": self = .endpointDelete(try .init(from: decoder))
        case "forward.add": self = .forwardAdd(try .init(from: decoder))
        case "forward.remove": self = .forwardRemove(try .init(from: decoder))
        case "member.set": self = .memberSet(try .init(from: decoder))
        case "member.remove": self = .memberRemove(try .init(from: decoder))
        case "member.drain": self = .memberDrain(try .init(from: decoder))
        case "member.health": self = .memberHealth(try .init(from: decoder))
        case "user.add": self = .userAdd(try .init(from: decoder))
        case "user.remove": self = .userRemove(try .init(from: decoder))
        case "user.update": self = .userUpdate(try .init(from: decoder))
        case "jwt.rotate": self = .jwtRotate(try .init(from: decoder))
        case "trust.revokeSerial": self = .trustRevokeSerial(try .init(from: decoder))
        case "trust.setCAs": self = .trustSetCAs(try .init(from: decoder))
        case "settings.set": self = .settingsSet(try .init(from: decoder))
        case "audit.append": self = .auditAppend(try .init(from: decoder))
        case "audit.prune": self = .auditPrune(try .init(from: decoder))
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown op type"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .tunnelCreate(let p): try p.encode(to: encoder)
        case .tunnelClose(let p): try p.encode(to: encoder)
        case .tunnelExpire(let p): try p.encode(to: encoder)
        case .connectorEnrol(let p): try p.encode(to: encoder)
        case .connectorRenew(let p): try p.encode(to: encoder)
        case .connectorStatus(let p): try p.encode(to: encoder)
        case .connectorRevoke(let p): try p.encode(to: encoder)
        case .mappingAdd(let p): try p.encode(to: encoder)
        case .mappingRemove(let p): try p.encode(to: encoder)
        case .endpointCreate(let p): try p.encode(to: encoder)
        case .endpointAssociate(let p): try p.encode(to: encoder)
        case .endpointUnassociate(let p): try p.encode(to: encoder)
        case .endpointDelete(let p): try p.encode(to: encoder)
        case .forwardAdd(let p): try p.encode(to: encoder)
        case .forwardRemove(let p): try p.encode(to: encoder)
        case .memberSet(let p): try p.encode(to: encoder)
        case .memberRemove(let p): try p.encode(to: encoder)
        case .memberDrain(let p): try p.encode(to: encoder)
        case .memberHealth(let p): try p.encode(to: encoder)
        case .userAdd(let p): try p.encode(to: encoder)
        case .userRemove(let p): try p.encode(to: encoder)
        case .userUpdate(let p): try p.encode(to: encoder)
        case .jwtRotate(let p): try p.encode(to: encoder)
        case .trustRevokeSerial(let p): try p.encode(to: encoder)
        case .trustSetCAs(let p): try p.encode(to: encoder)
        case .settingsSet(let p): try p.encode(to: encoder)
        case .auditAppend(let p): try p.encode(to: encoder)
        case .auditPrune(let p): try p.encode(to: encoder)
        }
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(type, forKey: .type)
    }
}

extension ControlOp {
    /// The object an op concerns, `kind/id`, for audit records of refusals (ids are cut
    /// to 64 bytes and kept only when well-formed; never a secret field).
    var object: String {
        func named(_ kind: String, _ id: String) -> String {
            (try? Validation.name(id, "id")) != nil ? "\(kind)/\(id)" : "\(kind)/?"
        }
        switch self {
        case .tunnelCreate(let p): return named("tunnel", p.id)
        case .tunnelClose(let p): return named("tunnel", p.id)
        case .tunnelExpire: return ""
        case .connectorEnrol(let p): return named("connector", p.connectorId)
        case .connectorRenew(let p): return named("connector", p.id)
        case .connectorStatus(let p): return named("connector", p.id)
        case .connectorRevoke(let p): return named("connector", p.id)
        case .mappingAdd(let p): return named("mapping", p.id)
        case .mappingRemove(let p): return named("mapping", p.id)
        case .endpointCreate(let p): return named("endpoint", p.id)
        case .endpointAssociate(let p): return named("endpoint", p.id)
        case .endpointUnassociate(let p): return named("endpoint", p.id)
        case .endpointDelete(let p): return named("endpoint", p.id)
        case .forwardAdd(let p): return named("forward", p.id)
        case .forwardRemove(let p): return named("forward", p.id)
        case .memberSet(let p): return named("member", p.id)
        case .memberRemove(let p): return named("member", p.id)
        case .memberDrain(let p): return named("member", p.id)
        case .memberHealth(let p): return named("member", p.id)
        case .userAdd(let p): return named("user", p.name)
        case .userRemove(let p): return named("user", p.name)
        case .userUpdate(let p): return named("user", p.name)
        case .jwtRotate(let p): return named("jwt", p.keyId)
        case .trustRevokeSerial(let p): return named("serial", p.serial)
        case .trustSetCAs: return "trust"
        case .settingsSet: return "settings"
        case .auditAppend, .auditPrune: return "audit"
        }
    }
}
