/// Read-only views of the state for the admin API, the CLI and the node's reactions.
/// Pure; lists come sorted by id (name for users) so answers are stable.
extension ControlState {
    /// Every tunnel, sorted by id.
    var tunnelList: [TunnelRecord] { tunnels.values.sorted { $0.id < $1.id } }

    /// The mappings of `tunnelId` (every tunnel when nil), sorted by id.
    func mappingList(tunnelId: String? = nil) -> [MappingRecord] {
        mappings.values.filter { tunnelId == nil || $0.tunnelId == tunnelId }.sorted { $0.id < $1.id }
    }

    /// Every endpoint, sorted by id.
    var endpointList: [EndpointRecord] { endpoints.values.sorted { $0.id < $1.id } }

    /// The forwarding rules of `endpointId` (every endpoint when nil), sorted by id.
    func forwardList(endpointId: String? = nil) -> [ForwardRule] {
        forwards.values.filter { endpointId == nil || $0.endpointId == endpointId }.sorted { $0.id < $1.id }
    }

    /// Every connector, sorted by id.
    var connectorList: [ConnectorRecord] { connectors.values.sorted { $0.id < $1.id } }

    /// Every member, sorted by id.
    var memberList: [MemberRecord] { members.values.sorted { $0.id < $1.id } }

    /// Every user without password hashes, sorted by name.
    var userList: [UserView] { users.values.map(\.view).sorted { $0.name < $1.name } }

    /// The ids of open tunnels whose `expiresAt <= nowMs`, sorted, at most `limit`: what
    /// the leader puts in `tunnel.expire`.
    func dueTunnelIds(nowMs: Int64, limit: Int = 1000) -> [String] {
        Array(tunnels.values.filter { $0.state == .open && $0.expiresAt <= nowMs }.map(\.id).sorted().prefix(limit))
    }

    /// Whether a certificate serial (any case) is on the revoked list.
    func isRevoked(serial: String) -> Bool { trust.revokedSerials.contains(serial.lowercased()) }

    /// Whether traffic through `tunnelId` is allowed right now: open and not past its
    /// expiry on the caller's clock (nodes enforce `expiresAt` on their own).
    func tunnelIsLive(_ tunnelId: String, nowMs: Int64) -> Bool {
        guard let tunnel = tunnels[tunnelId] else { return false }
        return tunnel.state == .open && nowMs < tunnel.expiresAt
    }
}
