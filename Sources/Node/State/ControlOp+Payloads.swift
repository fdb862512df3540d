/// The fields of each operation, as they appear in the command's `op` object next to
/// `type`. Field names are the wire format (docs/STATE.md); values are checked in apply.
enum OpPayload {
    struct TunnelCreate: Codable, Equatable, Sendable {
        var id: String
        var name: String
        var durationSeconds: Int64
        /// SHA-256 hex of the connect token (the token itself never enters the state).
        var tokenHash: String
        var tokenExpiresAt: Int64
    }

    struct TunnelClose: Codable, Equatable, Sendable {
        var id: String
        var reason: TunnelRecord.CloseReason
    }

    struct TunnelExpire: Codable, Equatable, Sendable {
        var ids: [String]
    }

    struct ConnectorEnrol: Codable, Equatable, Sendable {
        var tunnelId: String
        var tokenHash: String
        var connectorId: String
        var name: String
        var certificateSerial: String
        var certificateExpiresAt: Int64
        /// SHA-256 hex of the CA that signed the certificate (absent in older commands).
        var caFingerprint: String? = nil
    }

    struct ConnectorRenew: Codable, Equatable, Sendable {
        var id: String
        var certificateSerial: String
        var certificateExpiresAt: Int64
        /// SHA-256 hex of the CA that signed the certificate (absent in older commands).
        var caFingerprint: String? = nil
    }

    struct ConnectorStatus: Codable, Equatable, Sendable {
        var id: String
        var status: ConnectorRecord.Status
        var node: String
    }

    struct ByID: Codable, Equatable, Sendable {
        var id: String
    }

    struct MappingAdd: Codable, Equatable, Sendable {
        var id: String
        var tunnelId: String
        var kind: MappingRecord.Kind
        var target: String
        var listenPort: Int
        var allow: [String]
    }

    struct EndpointCreate: Codable, Equatable, Sendable {
        var id: String
        var name: String
        var connectorId: String?
        var vpc: String?
        var subnets: [String]
    }

    struct EndpointScope: Codable, Equatable, Sendable {
        var id: String
        var vpc: String?
        var subnets: [String]
    }

    struct ForwardAdd: Codable, Equatable, Sendable {
        var id: String
        var endpointId: String
        var kind: ForwardRule.Kind
        var listenPort: Int
        var target: String
    }

    struct MemberSet: Codable, Equatable, Sendable {
        var id: String
        var raftId: UInt64
        var peerAddress: String
        var apiAddress: String
        var mappingHost: String
    }

    struct MemberDrain: Codable, Equatable, Sendable {
        var id: String
        var draining: Bool
    }

    struct MemberHealth: Codable, Equatable, Sendable {
        var id: String
        var alive: Bool
    }

    struct UserAdd: Codable, Equatable, Sendable {
        var name: String
        var role: Role
        /// `PasswordHash.make`'s output, computed by the proposer.
        var passwordHash: String
    }

    struct UserRemove: Codable, Equatable, Sendable {
        var name: String
    }

    /// A new role and/or a new password (at least one). A new password makes every token
    /// issued to the user before it stop counting.
    struct UserUpdate: Codable, Equatable, Sendable {
        var name: String
        var role: Role?
        /// `PasswordHash.make`'s output, computed by the proposer.
        var passwordHash: String?
    }

    struct JWTRotate: Codable, Equatable, Sendable {
        var keyId: String
        var keyB64: String
    }

    struct TrustRevokeSerial: Codable, Equatable, Sendable {
        var serial: String
        /// The node whose certificate this is (`node revoke`), for the audit record.
        var node: String? = nil
    }

    /// The whole CA list (a rotation lists the old and the new CA, then only the new).
    struct TrustSetCAs: Codable, Equatable, Sendable {
        var caPEMs: [String]
        /// The CA-rotation step this is (`begin`, `finish`, `abort`), for the audit record.
        var step: String? = nil
    }

    struct SettingsSet: Codable, Equatable, Sendable {
        var tunnelDurationMaxSeconds: Int64
    }

    /// An event that is not a state change (login, session open/close), batched by a node.
    struct AuditEvent: Codable, Equatable, Sendable {
        var at: Int64
        var actor: Principal
        var source: String
        var action: String
        var object: String
        var outcome: AuditRecord.Outcome
        var detail: String
    }

    struct AuditAppend: Codable, Equatable, Sendable {
        var records: [AuditEvent]
    }

    struct AuditPrune: Codable, Equatable, Sendable {
        var throughSeq: UInt64
    }
}
