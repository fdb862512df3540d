/// Connectors after enrolment (ControlState+Tunnels.swift): renewal, status, revocation.
extension ControlState {
    mutating func renewConnector(_ p: OpPayload.ConnectorRenew, _ context: Context) throws(ControlError) -> Applied {
        guard var connector = connectors[p.id] else {
            throw ControlError(.notFound, "no connector \(Validation.quoted(p.id))")
        }
        guard !connector.revoked else { throw ControlError(.revoked, "connector \(p.id) is revoked") }
        let serial = try Validation.serial(p.certificateSerial, "certificateSerial")
        try Validation.time(p.certificateExpiresAt, "certificateExpiresAt")
        guard p.certificateExpiresAt > context.at else {
            throw ControlError(.invalidValue, "certificateExpiresAt must be later than the command's time")
        }
        guard !trust.revokedSerials.contains(serial) else {
            throw ControlError(.revoked, "certificate serial \(serial) is revoked")
        }
        if let fingerprint = p.caFingerprint { try Validation.hexDigest(fingerprint, "caFingerprint") }
        let previous = connector.certificateSerial
        connector.certificateSerial = serial
        connector.certificateExpiresAt = p.certificateExpiresAt
        connector.caFingerprint = p.caFingerprint
        connectors[p.id] = connector
        return Applied(connector, object: "connector/\(p.id)", detail: "serial \(previous) -> \(serial)")
    }

    mutating func setConnectorStatus(_ p: OpPayload.ConnectorStatus, _ context: Context) throws(ControlError) -> Applied
    {
        guard var connector = connectors[p.id] else {
            throw ControlError(.notFound, "no connector \(Validation.quoted(p.id))")
        }
        try Validation.name(p.node, "node")
        guard p.status != .enrolled else { throw ControlError(.invalidValue, "status must be online or offline") }
        guard !(connector.revoked && p.status == .online) else {
            throw ControlError(.revoked, "connector \(p.id) is revoked and cannot be online")
        }
        // A session that ended on one node after its connector re-homed to another must
        // not mark it offline there: an offline report counts only from the node it is on.
        if p.status == .offline, connector.status == .online, let node = connector.node, node != p.node {
            return Applied(connector, object: "connector/\(p.id)", detail: "offline at \(p.node) ignored: online at \(node)")
        }
        connector.status = p.status
        connector.node = p.node
        connector.statusAt = context.at
        connectors[p.id] = connector
        return Applied(connector, object: "connector/\(p.id)", detail: "status=\(p.status.rawValue) node=\(p.node)")
    }

    /// Revokes a connector: marks it and adds its certificate serial to the trust bundle.
    /// Closes nothing by itself; nodes end its sessions when they see the commit.
    mutating func revokeConnector(_ p: OpPayload.ByID, _ context: Context) throws(ControlError) -> Applied {
        guard var connector = connectors[p.id] else {
            throw ControlError(.notFound, "no connector \(Validation.quoted(p.id))")
        }
        guard !connector.revoked else { throw ControlError(.alreadyRevoked, "connector \(p.id) is already revoked") }
        connector.revoked = true
        connector.revokedAt = context.at
        connectors[p.id] = connector
        trust.insertRevoked(connector.certificateSerial)
        return Applied(
            connector, object: "connector/\(p.id)", detail: "revoked serial=\(connector.certificateSerial)")
    }
}

extension TrustBundle {
    /// Adds a serial keeping the list sorted and unique.
    mutating func insertRevoked(_ serial: String) {
        guard !revokedSerials.contains(serial) else { return }
        revokedSerials.append(serial)
        revokedSerials.sort()
    }
}
