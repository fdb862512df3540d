/// The apply pipeline: decode → authorise → validate → mutate → audit → result.
///
/// Every handler checks everything before changing anything, so a refusal leaves the
/// state exactly as it was except for the audit record of the refusal.
extension ControlState {
    /// Who, when and from where, for one command (time already clamped to the clock).
    struct Context: Sendable {
        var at: Int64
        var actor: Principal
        var node: String
        var source: String
    }

    /// What a handler returns: the result object and the audit notes (one record each).
    /// The result is encoded only when asked for (`result()`): only the proposing node
    /// needs it, and encoding it was a tenth of a follower's apply.
    struct Applied {
        var result: () -> [UInt8]
        var notes: [(object: String, detail: String)]

        init<T: Encodable>(_ value: T, object: String, detail: String) {
            result = { CanonicalJSON.encode(value) }
            notes = [(object, detail)]
        }

        init<T: Encodable>(_ value: T, notes: [(object: String, detail: String)]) {
            result = { CanonicalJSON.encode(value) }
            self.notes = notes
        }
    }

    /// Applies one committed entry's bytes. Undecodable or malformed envelopes are refused
    /// with `bad_command` and change nothing (not even the audit: nothing in them can be
    /// trusted enough to record).
    mutating func apply(_ bytes: [UInt8]) -> ControlResult {
        guard let command = ControlCommand.decode(bytes) else { return Self.undecodable }
        return apply(command)
    }

    /// The answer to bytes that are not a command.
    static var undecodable: ControlResult {
        .error(ControlError(.badCommand, "not a version-\(ControlCommand.version) command"))
    }

    /// Applies one decoded command. Without `resultWanted` a success carries `[]` instead
    /// of the object (state and audit are the same either way).
    mutating func apply(_ command: ControlCommand, resultWanted: Bool = true) -> ControlResult {
        do throws(ControlError) {
            try Validation.envelope(command)
        } catch {
            return .error(error)
        }
        clockMs = max(clockMs, command.at)
        let context = Context(at: clockMs, actor: command.actor, node: command.node, source: command.source)
        if let denial = authorize(command.op, actor: command.actor) {
            record(context, command.op.type, object: command.op.object, outcome: .denied, detail: denial.description)
            return .error(denial)
        }
        do throws(ControlError) {
            let applied = try handle(command.op, context)
            for note in applied.notes {
                record(context, command.op.type, object: note.object, outcome: .ok, detail: note.detail)
            }
            return .ok(resultWanted ? applied.result() : [])
        } catch {
            record(context, command.op.type, object: command.op.object, outcome: .rejected, detail: error.description)
            return .error(error)
        }
    }

    private mutating func record(
        _ context: Context, _ action: String, object: String, outcome: AuditRecord.Outcome, detail: String
    ) {
        audit.append(
            at: context.at, actor: context.actor, node: context.node, source: context.source, action: action,
            object: object, outcome: outcome, detail: detail)
    }

    private mutating func handle(_ op: ControlOp, _ context: Context) throws(ControlError) -> Applied {
        switch op {
        case .tunnelCreate(let p): try createTunnel(p, context)
        case .tunnelClose(let p): try closeTunnel(p, context)
        case .tunnelExpire(let p): try expireTunnels(p, context)
        case .connectorEnrol(let p): try enrolConnector(p, context)
        case .connectorRenew(let p): try renewConnector(p, context)
        case .connectorStatus(let p): try setConnectorStatus(p, context)
        case .connectorRevoke(let p): try revokeConnector(p, context)
        case .mappingAdd(let p): try addMapping(p, context)
        case .mappingRemove(let p): try removeMapping(p, context)
        case .endpointCreate(let p): try createEndpoint(p, context)
        case .endpointAssociate(let p): try associateEndpoint(p, context)
        case .endpointUnassociate(let p): try unassociateEndpoint(p, context)
        case .endpointDelete(let p): try deleteEndpoint(p, context)
        case .forwardAdd(let p): try addForward(p, context)
        case .forwardRemove(let p): try removeForward(p, context)
        case .memberSet(let p): try setMember(p, context)
        case .memberRemove(let p): try removeMember(p, context)
        case .memberDrain(let p): try drainMember(p, context)
        case .memberHealth(let p): try setMemberHealth(p, context)
        case .userAdd(let p): try addUser(p, context)
        case .userRemove(let p): try removeUser(p, context)
        case .userUpdate(let p): try updateUser(p, context)
        case .jwtRotate(let p): try rotateJWTKey(p, context)
        case .trustRevokeSerial(let p): try revokeSerial(p, context)
        case .trustSetCAs(let p): try setCAs(p, context)
        case .settingsSet(let p): try setSettings(p, context)
        case .auditAppend(let p): try appendAudit(p, context)
        case .auditPrune(let p): try pruneAudit(p, context)
        }
    }
}

// MARK: - Authorisation

extension ControlState {
    /// What an op requires of its actor.
    enum Requirement: Equatable, Sendable {
        /// A user whose role allows the permission (admin certificates and the system always may).
        case permission(Permission)
        /// Only nodes (and the system): expiry, status reports, audit batches.
        case nodeInternal
        /// Nodes, connectors (and the system): enrolment and renewal, authorised by token or
        /// by the connector's live certificate.
        case connectorOrNode
    }

    /// The requirement of each op (one table, listed in docs/STATE.md).
    static func requirement(_ op: ControlOp) -> Requirement {
        switch op {
        case .tunnelCreate, .tunnelClose: .permission(.tunnelsWrite)
        case .tunnelExpire, .connectorStatus, .auditAppend, .memberHealth: .nodeInternal
        case .connectorEnrol, .connectorRenew: .connectorOrNode
        case .connectorRevoke: .permission(.connectorsRevoke)
        case .mappingAdd, .mappingRemove: .permission(.mappingsWrite)
        case .endpointCreate, .endpointAssociate, .endpointUnassociate, .endpointDelete: .permission(.endpointsWrite)
        case .forwardAdd, .forwardRemove: .permission(.forwardsWrite)
        case .memberSet, .memberRemove, .memberDrain, .settingsSet: .permission(.clusterWrite)
        case .userAdd, .userRemove, .userUpdate: .permission(.usersWrite)
        case .jwtRotate, .trustRevokeSerial, .trustSetCAs: .permission(.secretsRotate)
        case .auditPrune: .permission(.auditPrune)
        }
    }

    /// Nil when `actor` may perform `op` in this state, else the `forbidden` refusal.
    /// A node may also register itself (`member.set` with its own id).
    func authorize(_ op: ControlOp, actor: Principal) -> ControlError? {
        let requirement = ControlState.requirement(op)
        let allowed: Bool
        switch actor.kind {
        case .system, .adminCert:
            allowed = true
        case .node:
            if case .memberSet(let p) = op, p.id == actor.name {
                allowed = true
            } else {
                allowed = requirement == .nodeInternal || requirement == .connectorOrNode
            }
        case .connector:
            allowed = requirement == .connectorOrNode
        case .user:
            guard case .permission(let permission) = requirement else {
                allowed = false
                break
            }
            guard let user = users[actor.name] else {
                return ControlError(.forbidden, "user \(Validation.quoted(actor.name)) does not exist")
            }
            // Any user may set their own password (the API checked the current one first);
            // only `users.write` may change a role or someone else's password.
            if case .userUpdate(let p) = op, p.name == actor.name, p.role == nil {
                allowed = true
            } else {
                allowed = user.role.allows(permission)
            }
        }
        guard !allowed else { return nil }
        return ControlError(.forbidden, "\(actor.kind.rawValue) \(Validation.quoted(actor.name)) may not \(op.type)")
    }
}
