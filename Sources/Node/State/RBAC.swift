/// A user's role (BRIEF: admin everything; operator tunnels, mappings, endpoints, rules,
/// sessions; auditor read-only with audit query and export).
enum Role: String, Codable, CaseIterable, Sendable {
    case admin
    case `operator`
    case auditor

    /// Whether the role grants `permission`: one lookup in `Permission.table`.
    func allows(_ permission: Permission) -> Bool { Permission.table[permission]?.contains(self) ?? false }
}

/// What an admin API call or a state command needs. Raw values are the names the API,
/// the CLI and docs/STATE.md use.
enum Permission: String, Codable, CaseIterable, Sendable {
    case tunnelsRead = "tunnels.read"
    case tunnelsWrite = "tunnels.write"
    case mappingsRead = "mappings.read"
    case mappingsWrite = "mappings.write"
    case endpointsRead = "endpoints.read"
    case endpointsWrite = "endpoints.write"
    case forwardsRead = "forwards.read"
    case forwardsWrite = "forwards.write"
    case sessionsRead = "sessions.read"
    case sessionsKill = "sessions.kill"
    case connectorsRead = "connectors.read"
    case connectorsRevoke = "connectors.revoke"
    case clusterRead = "cluster.read"
    case clusterWrite = "cluster.write"
    case usersRead = "users.read"
    case usersWrite = "users.write"
    case secretsRotate = "secrets.rotate"
    case auditRead = "audit.read"
    case auditExport = "audit.export"
    case auditPrune = "audit.prune"
    case snapshotRead = "snapshot.read"

    /// The whole RBAC policy in one table: which roles hold each permission.
    /// Tests iterate it; every permission must appear.
    static let table: [Permission: Set<Role>] = [
        .tunnelsRead: [.admin, .operator, .auditor],
        .tunnelsWrite: [.admin, .operator],
        .mappingsRead: [.admin, .operator, .auditor],
        .mappingsWrite: [.admin, .operator],
        .endpointsRead: [.admin, .operator, .auditor],
        .endpointsWrite: [.admin, .operator],
        .forwardsRead: [.admin, .operator, .auditor],
        .forwardsWrite: [.admin, .operator],
        .sessionsRead: [.admin, .operator, .auditor],
        .sessionsKill: [.admin, .operator],
        .connectorsRead: [.admin, .operator, .auditor],
        .connectorsRevoke: [.admin],
        .clusterRead: [.admin, .operator, .auditor],
        .clusterWrite: [.admin],
        .usersRead: [.admin],
        .usersWrite: [.admin],
        .secretsRotate: [.admin],
        .auditRead: [.admin, .auditor],
        .auditExport: [.admin, .auditor],
        .auditPrune: [.admin],
        .snapshotRead: [.admin],
    ]
}

/// Who issued a command, as the proposing node authenticated it.
struct Principal: Codable, Hashable, Sendable {
    enum Kind: String, Codable, CaseIterable, Sendable {
        /// A user signed in with a JWT; their role is looked up in the replicated state at
        /// apply time, so a role change between proposal and commit is honoured.
        case user
        /// The holder of an admin certificate: the admin role (cluster bootstrap).
        case adminCert = "admin-cert"
        /// A node acting on its own (expiry, status reports, audit batches, self-registration).
        case node
        /// A connector (enrolment with its one-time token).
        case connector
        /// The cluster itself (bootstrap, tests): everything.
        case system
    }

    var kind: Kind
    /// 1–64 characters of [A-Za-z0-9._:@-] (users, certificate names, node ids).
    var name: String

    init(_ kind: Kind, _ name: String) {
        self.kind = kind
        self.name = name
    }
}
