import Tunnel

/// Members, users, cluster secrets and settings.
extension ControlState {
    /// A user as results and listings show it: never the password hash.
    struct UserView: Codable, Equatable, Sendable {
        var name: String
        var role: Role
        var createdAt: Int64
        var createdBy: String
    }

    /// The JWT key as results show it: never the key material.
    struct JWTKeyView: Codable, Equatable, Sendable {
        var keyId: String
        var rotatedAt: Int64
    }

    struct SettingsView: Codable, Equatable, Sendable {
        var tunnelDurationMaxSeconds: Int64
    }

    mutating func setMember(_ p: OpPayload.MemberSet, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.id, "id")
        guard p.raftId != 0 else { throw ControlError(.invalidValue, "raftId must not be 0") }
        if let other = members.values.firstByID(where: { $0.raftId == p.raftId && $0.id != p.id }) {
            throw ControlError(.alreadyExists, "raftId \(p.raftId) belongs to member \(other.id)")
        }
        let peer = try Validation.endpointAddress(p.peerAddress, "peerAddress")
        let api = try Validation.endpointAddress(p.apiAddress, "apiAddress")
        guard let host = IPAddress(p.mappingHost) else {
            throw ControlError(.invalidValue, "mappingHost must be an IP address")
        }
        var member = MemberRecord(
            id: p.id, raftId: p.raftId, peerAddress: peer, apiAddress: api, mappingHost: host.description,
            updatedAt: context.at)
        // Re-recording a member's addresses keeps its placement flags.
        member.draining = members[p.id]?.draining
        member.down = members[p.id]?.down
        members[p.id] = member
        return Applied(member, object: "member/\(p.id)", detail: "raftId=\(p.raftId) peer=\(peer) api=\(api)")
    }

    mutating func removeMember(_ p: OpPayload.ByID, _ context: Context) throws(ControlError) -> Applied {
        guard let member = members.removeValue(forKey: p.id) else {
            throw ControlError(.notFound, "no member \(Validation.quoted(p.id))")
        }
        return Applied(member, object: "member/\(p.id)", detail: "raftId=\(member.raftId)")
    }

    /// Marks a member draining (it gives up its tunnels) or ready again.
    mutating func drainMember(_ p: OpPayload.MemberDrain, _ context: Context) throws(ControlError) -> Applied {
        guard var member = members[p.id] else { throw ControlError(.notFound, "no member \(Validation.quoted(p.id))") }
        member.draining = p.draining ? true : nil
        member.updatedAt = context.at
        members[p.id] = member
        return Applied(member, object: "member/\(p.id)", detail: p.draining ? "draining" : "ready")
    }

    /// The leader's view of a member's liveness, replicated so every node places tunnels
    /// over the same set (docs/ARCHITECTURE.md, "Placement").
    mutating func setMemberHealth(_ p: OpPayload.MemberHealth, _ context: Context) throws(ControlError) -> Applied {
        guard var member = members[p.id] else { throw ControlError(.notFound, "no member \(Validation.quoted(p.id))") }
        member.down = p.alive ? nil : true
        member.updatedAt = context.at
        members[p.id] = member
        return Applied(member, object: "member/\(p.id)", detail: p.alive ? "alive" : "down")
    }

    mutating func addUser(_ p: OpPayload.UserAdd, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.name, "name")
        guard users[p.name] == nil else { throw ControlError(.alreadyExists, "user \(p.name) already exists") }
        guard PasswordHash.parse(p.passwordHash) != nil else {
            throw ControlError(.invalidValue, "passwordHash is not a valid scrypt$N$r$p$salt$hash string")
        }
        let user = UserRecord(
            name: p.name, role: p.role, passwordHash: p.passwordHash, createdAt: context.at,
            createdBy: context.actor.name)
        users[p.name] = user
        return Applied(user.view, object: "user/\(p.name)", detail: "role=\(p.role.rawValue)")
    }

    mutating func removeUser(_ p: OpPayload.UserRemove, _ context: Context) throws(ControlError) -> Applied {
        guard let user = users[p.name] else { throw ControlError(.notFound, "no user \(Validation.quoted(p.name))") }
        if user.role == .admin, users.values.filter({ $0.role == .admin }).count == 1 {
            throw ControlError(.lastAdmin, "user \(p.name) is the last admin")
        }
        users[p.name] = nil
        return Applied(user.view, object: "user/\(p.name)", detail: "role=\(user.role.rawValue)")
    }

    /// A new role (the last admin keeps `admin`) and/or password hash. A new password moves
    /// the user's version, so every token issued before it stops counting.
    mutating func updateUser(_ p: OpPayload.UserUpdate, _ context: Context) throws(ControlError) -> Applied {
        guard var user = users[p.name] else { throw ControlError(.notFound, "no user \(Validation.quoted(p.name))") }
        guard p.role != nil || p.passwordHash != nil else {
            throw ControlError(.invalidValue, "nothing to change: give a role, a passwordHash or both")
        }
        var changes: [String] = []
        if let role = p.role, role != user.role {
            if user.role == .admin, users.values.filter({ $0.role == .admin }).count == 1 {
                throw ControlError(.lastAdmin, "user \(p.name) is the last admin")
            }
            changes.append("role \(user.role.rawValue)→\(role.rawValue)")
            user.role = role
        }
        if let hash = p.passwordHash {
            guard PasswordHash.parse(hash) != nil else {
                throw ControlError(.invalidValue, "passwordHash is not a valid scrypt$N$r$p$salt$hash string")
            }
            user.passwordHash = hash
            // Strictly later than the version old tokens carry, whatever the clock says.
            user.passwordSetAt = max(context.at, user.version + 1)
            changes.append("password set")
        }
        users[p.name] = user
        return Applied(
            user.view, object: "user/\(p.name)", detail: changes.isEmpty ? "unchanged" : changes.joined(separator: ", "))
    }

    /// Replaces the JWT signing key (proposer-chosen random bytes): every token signed with
    /// the previous key stops verifying.
    mutating func rotateJWTKey(_ p: OpPayload.JWTRotate, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.keyId, "keyId")
        guard let key = try? Base64URL.decode(p.keyB64), (32...512).contains(key.count) else {
            throw ControlError(.invalidValue, "keyB64 must be unpadded Base64URL of 32–512 bytes")
        }
        guard jwtKey?.keyId != p.keyId else {
            throw ControlError(.alreadyExists, "keyId \(p.keyId) is the current key")
        }
        let record = JWTKeyRecord(keyId: p.keyId, keyB64: p.keyB64, rotatedAt: context.at)
        jwtKey = record
        let view = JWTKeyView(keyId: p.keyId, rotatedAt: context.at)
        return Applied(view, object: "jwt/\(p.keyId)", detail: "rotated")
    }

    mutating func revokeSerial(_ p: OpPayload.TrustRevokeSerial, _ context: Context) throws(ControlError) -> Applied {
        let serial = try Validation.serial(p.serial, "serial")
        if let node = p.node { try Validation.name(node, "node") }
        guard !trust.revokedSerials.contains(serial) else {
            throw ControlError(.alreadyRevoked, "serial \(serial) is already revoked")
        }
        trust.insertRevoked(serial)
        if let node = p.node {
            return Applied(trust, object: "node/\(node)", detail: "revoked serial=\(serial)")
        }
        return Applied(trust, object: "serial/\(serial)", detail: "revoked")
    }

    /// Most CA certificates in the bundle, and the largest PEM accepted.
    static let caCountMax = 8
    static let caPEMBytesMax = 16 * 1024

    /// Replaces the trusted CA list (LF-separated PEM text, checked for shape only: nodes parse it when
    /// they build TLS contexts, and refuse to swap to a bundle they cannot load).
    mutating func setCAs(_ p: OpPayload.TrustSetCAs, _ context: Context) throws(ControlError) -> Applied {
        guard (1...Self.caCountMax).contains(p.caPEMs.count) else {
            throw ControlError(.invalidValue, "caPEMs must hold 1–\(Self.caCountMax) certificates")
        }
        var fingerprints: [String] = []
        for (index, pem) in p.caPEMs.enumerated() {
            let trimmed = pem.trimmingTrailingNewlines
            guard pem.utf8.count <= Self.caPEMBytesMax, trimmed.hasPrefix("-----BEGIN CERTIFICATE-----\n"),
                trimmed.hasSuffix("\n-----END CERTIFICATE-----"),
                pem.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A })
            else {
                throw ControlError(.invalidValue, "caPEMs[\(index)] is not one PEM CERTIFICATE block")
            }
            fingerprints.append(String(Hex.encode(SHA256.hash(pem)).prefix(16)))
        }
        guard Set(p.caPEMs).count == p.caPEMs.count else {
            throw ControlError(.invalidValue, "caPEMs lists a certificate twice")
        }
        if let step = p.step {
            guard ["begin", "finish", "abort"].contains(step) else {
                throw ControlError(.invalidValue, "step must be begin, finish or abort")
            }
        }
        trust.caPEMs = p.caPEMs
        let prefix = p.step.map { "rotate-ca \($0) " } ?? ""
        return Applied(trust, object: "trust", detail: "\(prefix)cas=\(fingerprints.joined(separator: ","))")
    }

    mutating func setSettings(_ p: OpPayload.SettingsSet, _ context: Context) throws(ControlError) -> Applied {
        let maxAllowed: Int64 = 10 * 366 * 24 * 3600
        guard (60...maxAllowed).contains(p.tunnelDurationMaxSeconds) else {
            throw ControlError(.invalidValue, "tunnelDurationMaxSeconds must be in 60–\(maxAllowed)")
        }
        tunnelDurationMaxSeconds = p.tunnelDurationMaxSeconds
        let view = SettingsView(tunnelDurationMaxSeconds: p.tunnelDurationMaxSeconds)
        return Applied(view, object: "settings", detail: "tunnelDurationMaxSeconds=\(p.tunnelDurationMaxSeconds)")
    }
}

extension String {
    /// Without trailing LF characters.
    fileprivate var trimmingTrailingNewlines: Substring {
        var end = endIndex
        while end > startIndex, self[index(before: end)] == "\n" {
            end = index(before: end)
        }
        return self[..<end]
    }
}

extension UserRecord {
    /// Without the password hash.
    var view: ControlState.UserView { .init(name: name, role: role, createdAt: createdAt, createdBy: createdBy) }
}
