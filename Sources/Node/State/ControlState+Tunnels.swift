import Tunnel

/// Tunnels and their connect tokens (BRIEF Concepts: tunnel; a closed tunnel never reopens).
extension ControlState {
    /// The result of `tunnel.expire`.
    struct ExpireResult: Codable, Equatable, Sendable {
        var closed: [TunnelRecord]
        /// Ids named but not closed (unknown, already closed or not yet due).
        var skipped: [String]
    }

    mutating func createTunnel(_ p: OpPayload.TunnelCreate, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.id, "id")
        try Validation.name(p.name, "name")
        guard tunnels[p.id] == nil else { throw ControlError(.alreadyExists, "tunnel \(p.id) already exists") }
        guard p.durationSeconds > 0, p.durationSeconds <= tunnelDurationMaxSeconds else {
            throw ControlError(
                .invalidValue, "durationSeconds \(p.durationSeconds) is not in 1–\(tunnelDurationMaxSeconds)")
        }
        try Validation.hexDigest(p.tokenHash, "tokenHash")
        try Validation.time(p.tokenExpiresAt, "tokenExpiresAt")
        guard p.tokenExpiresAt > context.at else {
            throw ControlError(.invalidValue, "tokenExpiresAt must be later than the command's time")
        }
        let expiresAt = context.at + p.durationSeconds * 1000
        try Validation.time(expiresAt, "expiresAt")
        let tunnel = TunnelRecord(
            id: p.id, name: p.name, owner: context.actor.name, createdAt: context.at, expiresAt: expiresAt,
            state: .open)
        tunnels[p.id] = tunnel
        tokens[p.id] = ConnectToken(tunnelId: p.id, tokenHash: p.tokenHash, expiresAt: p.tokenExpiresAt)
        return Applied(tunnel, object: "tunnel/\(p.id)", detail: "name=\(p.name) expiresAt=\(expiresAt)")
    }

    mutating func closeTunnel(_ p: OpPayload.TunnelClose, _ context: Context) throws(ControlError) -> Applied {
        guard var tunnel = tunnels[p.id] else { throw ControlError(.notFound, "no tunnel \(Validation.quoted(p.id))") }
        guard tunnel.state == .open else {
            throw ControlError(.alreadyClosed, "tunnel \(p.id) was closed at \(tunnel.closedAt ?? 0)")
        }
        tunnel.close(at: context.at, by: context.actor.name, reason: p.reason)
        tunnels[p.id] = tunnel
        return Applied(tunnel, object: "tunnel/\(p.id)", detail: "reason=\(p.reason.rawValue)")
    }

    /// Closes, among `ids`, the open tunnels whose `expiresAt <= at`; skips the others.
    mutating func expireTunnels(_ p: OpPayload.TunnelExpire, _ context: Context) throws(ControlError) -> Applied {
        guard p.ids.count <= 1000 else { throw ControlError(.invalidValue, "ids has more than 1000 entries") }
        var result = ExpireResult(closed: [], skipped: [])
        var notes: [(object: String, detail: String)] = []
        for id in p.ids {
            guard var tunnel = tunnels[id], tunnel.state == .open, tunnel.expiresAt <= context.at else {
                if !result.skipped.contains(id) { result.skipped.append(Validation.clipped(id)) }
                continue
            }
            tunnel.close(at: context.at, by: context.actor.name, reason: .expiry)
            tunnels[id] = tunnel
            result.closed.append(tunnel)
            notes.append(("tunnel/\(id)", "reason=expiry expiresAt=\(tunnel.expiresAt)"))
        }
        if notes.isEmpty { notes.append(("", "nothing due among \(p.ids.count) ids")) }
        return Applied(result, notes: notes)
    }

    /// Burns the tunnel's connect token and records the new connector. The token must
    /// match, be unused and unexpired, and the tunnel open.
    mutating func enrolConnector(_ p: OpPayload.ConnectorEnrol, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.connectorId, "connectorId")
        try Validation.name(p.name, "name")
        try Validation.hexDigest(p.tokenHash, "tokenHash")
        let serial = try Validation.serial(p.certificateSerial, "certificateSerial")
        try Validation.time(p.certificateExpiresAt, "certificateExpiresAt")
        guard let tunnel = tunnels[p.tunnelId] else {
            throw ControlError(.notFound, "no tunnel \(Validation.quoted(p.tunnelId))")
        }
        guard var token = tokens[p.tunnelId], constantTimeEquals(Array(token.tokenHash.utf8), Array(p.tokenHash.utf8))
        else { throw ControlError(.invalidToken, "the connect token does not match tunnel \(p.tunnelId)") }
        guard token.usedAt == nil else { throw ControlError(.invalidToken, "the connect token was already used") }
        guard context.at < token.expiresAt else { throw ControlError(.invalidToken, "the connect token expired") }
        guard tunnel.state == .open else { throw ControlError(.tunnelClosed, "tunnel \(p.tunnelId) is closed") }
        guard connectors[p.connectorId] == nil else {
            throw ControlError(.alreadyExists, "connector \(p.connectorId) already exists")
        }
        guard p.certificateExpiresAt > context.at else {
            throw ControlError(.invalidValue, "certificateExpiresAt must be later than the command's time")
        }
        guard !trust.revokedSerials.contains(serial) else {
            throw ControlError(.revoked, "certificate serial \(serial) is revoked")
        }
        token.usedAt = context.at
        token.usedBy = p.connectorId
        tokens[p.tunnelId] = token
        if let fingerprint = p.caFingerprint { try Validation.hexDigest(fingerprint, "caFingerprint") }
        let connector = ConnectorRecord(
            id: p.connectorId, tunnelId: p.tunnelId, name: p.name, certificateSerial: serial,
            certificateExpiresAt: p.certificateExpiresAt, caFingerprint: p.caFingerprint, enrolledAt: context.at,
            status: .enrolled, revoked: false)
        connectors[p.connectorId] = connector
        return Applied(
            connector, object: "connector/\(p.connectorId)", detail: "tunnel=\(p.tunnelId) serial=\(serial)")
    }
}

extension TunnelRecord {
    /// Marks the tunnel closed. Precondition: it is open (closing is one-way).
    mutating func close(at: Int64, by actor: String, reason: CloseReason) {
        precondition(state == .open, "closing tunnel \(id) twice")
        state = .closed
        closedAt = at
        closedBy = actor
        closeReason = reason
    }
}

extension Validation {
    /// `value` cut to 64 UTF-8 bytes (for echoing untrusted ids in results).
    static func clipped(_ value: String) -> String { String(decoding: value.utf8.prefix(64), as: UTF8.self) }
}
