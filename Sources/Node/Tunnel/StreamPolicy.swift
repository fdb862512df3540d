import Tunnel

/// Which streams may be dialled, decided from replicated state alone: pure functions,
/// no sockets or clocks (`nowMs` is passed in), tested table by table
/// (`Tests/NodeTests/Tunnel/StreamPolicyTests.swift`). The node and the connector each
/// check every stream open against what they know — nothing unmapped is ever dialled.
enum StreamPolicy {
    /// Whether the tunnel is open and not yet expired at `nowMs`.
    static func isLive(_ state: ControlState, tunnelId: String, nowMs: Int64) -> Bool {
        guard let tunnel = state.tunnels[tunnelId] else { return false }
        return tunnel.state == .open && tunnel.expiresAt > nowMs
    }

    // MARK: proxy endpoints

    /// Whether the endpoint that serves `target` (BRIEF: its subnet first, then its VPC)
    /// is `endpoint` — the node's check for a local forward before it opens a listener
    /// or carries a stream. Nil when it is; else why not.
    static func scopeRefusal(target: String, endpoint: EndpointRecord, in state: ControlState) -> String? {
        let host = HostPort.host(of: target)
        guard let serving = state.endpoint(forAddress: host, vpc: endpoint.vpc) else {
            return "target \(target) is outside endpoint \(endpoint.id)'s scope (\(endpoint.scopeSummary))"
        }
        guard serving.id == endpoint.id else {
            return "target \(target) is in the scope of endpoint \(serving.id), not \(endpoint.id)"
        }
        return nil
    }

    /// The connector's own scope check for a local forward: the target's address lies in
    /// one of its endpoint's subnets, or the endpoint has a VPC (a name the connector
    /// cannot test an address against: the whole VPC is its scope).
    static func inScope(target: String, subnets: [String], vpc: String?) -> Bool {
        if let ip = IPAddress(HostPort.host(of: target)),
            subnets.compactMap(IPNetwork.init).contains(where: { $0.contains(ip) })
        {
            return true
        }
        return vpc != nil
    }

    /// The tunnel whose connector session carries a local forwarding rule's streams, or
    /// why the rule is not served now (no listener is opened for it).
    static func localForwardTunnel(_ rule: ForwardRule, in state: ControlState, nowMs: Int64) -> Result<String, Refusal> {
        guard rule.kind == .local else { return .failure(Refusal("forward \(rule.id) is not a local forward")) }
        guard let endpoint = state.endpoints[rule.endpointId] else {
            return .failure(Refusal("endpoint \(rule.endpointId) of forward \(rule.id) does not exist"))
        }
        guard let connectorId = endpoint.connectorId, let connector = state.connectors[connectorId],
            !connector.revoked
        else {
            return .failure(Refusal("endpoint \(endpoint.id) has no live connector"))
        }
        guard isLive(state, tunnelId: connector.tunnelId, nowMs: nowMs) else {
            return .failure(Refusal("tunnel \(connector.tunnelId) of endpoint \(endpoint.id) is closed"))
        }
        if let why = scopeRefusal(target: rule.target, endpoint: endpoint, in: state) { return .failure(Refusal(why)) }
        return .success(connector.tunnelId)
    }

    /// The local forwards a node listens for, as listener entries keyed `forward/ID`
    /// (`StreamDescriptor.forListener`), each with the tunnel that carries it.
    static func localForwardListeners(_ state: ControlState, nowMs: Int64) -> [String: MappingRecord] {
        var wanted: [String: MappingRecord] = [:]
        for rule in state.forwards.values where rule.kind == .local {
            if let entry = localForwardListener(rule, in: state, nowMs: nowMs) { wanted[entry.id] = entry }
        }
        return wanted
    }

    private static func localForwardListener(_ rule: ForwardRule, in state: ControlState, nowMs: Int64) -> MappingRecord? {
        guard case .success(let tunnelId) = localForwardTunnel(rule, in: state, nowMs: nowMs) else { return nil }
        return MappingRecord(
            id: StreamDescriptor.forwardKeyPrefix + rule.id, tunnelId: tunnelId, kind: .expose, target: rule.target,
            listenPort: rule.listenPort, allow: [], createdAt: rule.createdAt, createdBy: rule.createdBy)
    }

    /// The gateway listener entry keyed `key` (an expose mapping's id, or `forward/ID`
    /// for a local forward) that every node serves in `state` now, if any: what the node
    /// holding a tunnel's session checks a relayed stream against. From the replicated
    /// state, not from the listeners this node managed to open, so a listener that failed
    /// to bind here does not refuse clients who entered elsewhere.
    static func servedListener(key: String, in state: ControlState, nowMs: Int64) -> MappingRecord? {
        if key.hasPrefix(StreamDescriptor.forwardKeyPrefix) {
            let id = String(key.dropFirst(StreamDescriptor.forwardKeyPrefix.count))
            guard let rule = state.forwards[id], rule.kind == .local else { return nil }
            return localForwardListener(rule, in: state, nowMs: nowMs)
        }
        guard let mapping = state.mappings[key], mapping.kind == .expose,
            isLive(state, tunnelId: mapping.tunnelId, nowMs: nowMs)
        else { return nil }
        return mapping
    }

    // MARK: streams the connector opens

    /// A stream a connector opened on its session (a publish mapping's or a remote
    /// forward's listener accepted a client): the gateway-side target the node may
    /// dial, or why not. The descriptor must name a mapping or rule of this connector's
    /// tunnel, of the right kind, with the very target the cluster recorded.
    static func gatewayTarget(
        _ descriptor: StreamDescriptor, tunnelId: String, connectorId: String, in state: ControlState, nowMs: Int64
    ) -> Result<String, Refusal> {
        guard descriptor.tunnel == tunnelId else {
            return .failure(Refusal("stream names tunnel \(descriptor.tunnel), this session is tunnel \(tunnelId)"))
        }
        guard isLive(state, tunnelId: tunnelId, nowMs: nowMs) else {
            return .failure(Refusal("tunnel \(tunnelId) is closed"))
        }
        switch descriptor.resolvedKind {
        case .publish:
            guard let mapping = state.mappings[descriptor.mapping], mapping.kind == .publish,
                mapping.tunnelId == tunnelId
            else {
                return .failure(Refusal("no publish mapping \(descriptor.mapping) in tunnel \(tunnelId)"))
            }
            guard mapping.target == descriptor.target else {
                return .failure(Refusal("mapping \(mapping.id) does not target \(descriptor.target)"))
            }
            return .success(mapping.target)
        case .remote:
            guard let rule = state.forwards[descriptor.mapping], rule.kind == .remote,
                let endpoint = state.endpoints[rule.endpointId], endpoint.connectorId == connectorId
            else {
                return .failure(Refusal("no remote forward \(descriptor.mapping) served by connector \(connectorId)"))
            }
            guard rule.target == descriptor.target else {
                return .failure(Refusal("forward \(rule.id) does not target \(descriptor.target)"))
            }
            return .success(rule.target)
        case .expose, .local:
            return .failure(Refusal("a connector may not open \(descriptor.resolvedKind.rawValue) streams"))
        }
    }

    // MARK: streams already open

    /// Whether a live stream (by the descriptor its OPEN carried) is still allowed by the
    /// mappings and rules in `state`: its mapping or rule exists, names the same tunnel (or
    /// endpoint of this connector) and the same target, and a local forward's target is
    /// still in its endpoint's scope. False ends the stream (TunnelHub+Unmapped.swift).
    /// The tunnel's own close, expiry and revocation are handled by `reconcile`.
    static func stillMapped(_ descriptor: StreamDescriptor, connectorId: String, in state: ControlState, nowMs: Int64)
        -> Bool
    {
        switch descriptor.resolvedKind {
        case .expose:
            guard let mapping = state.mappings[descriptor.mapping] else { return false }
            return mapping.kind == .expose && mapping.tunnelId == descriptor.tunnel
                && mapping.target == descriptor.target
        case .local:
            guard let rule = state.forwards[descriptor.mapping], rule.target == descriptor.target,
                case .success(let tunnel) = localForwardTunnel(rule, in: state, nowMs: nowMs)
            else { return false }
            return tunnel == descriptor.tunnel
        case .publish, .remote:
            let target = gatewayTarget(
                descriptor, tunnelId: descriptor.tunnel, connectorId: connectorId, in: state, nowMs: nowMs)
            if case .success = target { return true }
            return false
        }
    }

    /// A refused stream: the reason travels in the RST and the audit record.
    struct Refusal: Error, Equatable, CustomStringConvertible {
        var reason: String
        init(_ reason: String) { self.reason = reason }
        var description: String { reason }
    }
}
