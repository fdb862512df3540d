/// The objects of the replicated state. Plain values, `Codable` with stable field names
/// (they are the snapshot format and the `ok` results). Times are Unix milliseconds.

/// A time-limited grant (BRIEF Concepts: tunnel). Invariant: `state == .closed` exactly
/// when `closedAt`, `closedBy` and `closeReason` are set; a closed tunnel never reopens.
struct TunnelRecord: Codable, Equatable, Sendable {
    enum State: String, Codable, Sendable { case open, closed }
    enum CloseReason: String, Codable, CaseIterable, Sendable { case admin, expiry, revocation }

    var id: String
    var name: String
    /// The actor name that created it.
    var owner: String
    var createdAt: Int64
    var expiresAt: Int64
    var state: State
    var closedAt: Int64?
    var closedBy: String?
    var closeReason: CloseReason?
}

/// The one-time enrolment secret of a tunnel, stored as the SHA-256 hex of the token.
/// Invariant: once `usedAt` is set it never clears (single use).
struct ConnectToken: Codable, Equatable, Sendable {
    var tunnelId: String
    var tokenHash: String
    var expiresAt: Int64
    var usedAt: Int64?
    var usedBy: String?
}

/// Which application may be reached across a tunnel, and from which side.
struct MappingRecord: Codable, Equatable, Sendable {
    enum Kind: String, Codable, CaseIterable, Sendable {
        /// An app on the connector's side, reachable at a gateway listener.
        case expose
        /// An app on the gateway's side, reachable at a listener on the connector's host.
        case publish
    }

    var id: String
    var tunnelId: String
    var kind: Kind
    /// Canonical `host:port`.
    var target: String
    var listenPort: Int
    /// Canonical CIDRs of clients allowed; empty = any.
    var allow: [String]
    var createdAt: Int64
    var createdBy: String
}

/// A jump point for a network scope: a VPC and/or subnets.
struct EndpointRecord: Codable, Equatable, Sendable {
    var id: String
    var name: String
    var connectorId: String?
    var vpc: String?
    /// Canonical CIDRs, kept sorted by their text.
    var subnets: [String]
    var createdAt: Int64
    var createdBy: String
}

/// A local (gateway port → target in the scope) or remote (connector port → gateway-side
/// target) forward through an endpoint.
struct ForwardRule: Codable, Equatable, Sendable {
    enum Kind: String, Codable, CaseIterable, Sendable { case local, remote }

    var id: String
    var endpointId: String
    var kind: Kind
    var listenPort: Int
    /// Canonical `host:port`.
    var target: String
    var createdAt: Int64
    var createdBy: String
}

/// An enrolled connector. Invariant: `revoked` never clears.
struct ConnectorRecord: Codable, Equatable, Sendable {
    enum Status: String, Codable, CaseIterable, Sendable { case enrolled, online, offline }

    var id: String
    var tunnelId: String
    var name: String
    var certificateSerial: String
    var certificateExpiresAt: Int64
    /// SHA-256 hex of the CA that signed the current certificate (nil: not recorded),
    /// what a CA rotation's `finish` checks.
    var caFingerprint: String? = nil
    var enrolledAt: Int64
    var status: Status
    /// The node that last reported its status.
    var node: String?
    var statusAt: Int64?
    var revoked: Bool
    var revokedAt: Int64?
}

/// A node of the cluster, as the node layer needs to reach it.
struct MemberRecord: Codable, Equatable, Sendable {
    var id: String
    /// The Raft member id (non-zero, unique).
    var raftId: UInt64
    var peerAddress: String
    var apiAddress: String
    /// The IP address mapping listeners bind on this node.
    var mappingHost: String
    var updatedAt: Int64
    /// Set by `member.drain` (an operator): the node owns no tunnels (absent = false).
    var draining: Bool?
    /// Set by `member.health` (the leader): the leader has lost its link to this node
    /// (absent = false). A down node owns no tunnels until the leader sees it again.
    var down: Bool?

    /// Whether placement may give this member tunnels (docs/ARCHITECTURE.md, "Placement").
    var isReady: Bool { draining != true && down != true }
}

/// An admin API user. `passwordHash` is `PasswordHash`'s self-describing scrypt string.
struct UserRecord: Codable, Equatable, Sendable {
    var name: String
    var role: Role
    var passwordHash: String
    var createdAt: Int64
    var createdBy: String
    /// When the password was last changed (`user.update`), Unix ms; nil: never since creation.
    var passwordSetAt: Int64? = nil

    /// What a token of this user must carry in `ver` (JWT.Claims) to count: moves when the
    /// user is created and when its password changes.
    var version: Int64 { passwordSetAt ?? createdAt }
}

/// The JWT signing key (HS256). Rotating replaces it, which invalidates every token signed
/// with the previous one.
struct JWTKeyRecord: Codable, Equatable, Sendable {
    var keyId: String
    /// Base64URL of at least 32 random bytes, chosen by the proposer.
    var keyB64: String
    var rotatedAt: Int64
}

/// The replicated trust bundle: the CA certificates nodes and connectors trust (PEM,
/// in order; empty until the first `trust.setCAs`, when nodes use their configured CA)
/// and the revoked certificate serials (lowercase hex, sorted).
struct TrustBundle: Codable, Equatable, Sendable {
    var caPEMs: [String] = []
    var revokedSerials: [String] = []
}
