import Tunnel

/// What one connector may carry, as the cluster tells it (`GET /v1/connect/:id/config`):
/// its tunnel's mappings of both kinds, the proxy endpoints it serves and their
/// forwarding rules. `version` changes whenever any of these does, so the connector can
/// wait for the next change (docs/API.md). Pure value; the same type on both sides.
struct ConnectorConfig: Codable, Equatable, Sendable {
    /// Hex SHA-256 (first 16 bytes) of the canonical JSON of the three lists.
    var version: String
    /// The tunnel's mappings, sorted by id.
    var mappings: [MappingRecord]
    /// Endpoints whose `connectorId` is this connector, sorted by id.
    var endpoints: [EndpointRecord]
    /// Forwarding rules of those endpoints, sorted by id.
    var forwards: [ForwardRule]

    init(mappings: [MappingRecord], endpoints: [EndpointRecord], forwards: [ForwardRule]) {
        self.mappings = mappings.sorted { $0.id < $1.id }
        self.endpoints = endpoints.sorted { $0.id < $1.id }
        self.forwards = forwards.sorted { $0.id < $1.id }
        struct Body: Encodable {
            var mappings: [MappingRecord]
            var endpoints: [EndpointRecord]
            var forwards: [ForwardRule]
        }
        let body = CanonicalJSON.encode(Body(mappings: self.mappings, endpoints: self.endpoints, forwards: self.forwards))
        version = Hex.encode(Array(SHA256.hash(body).prefix(16)))
    }

    /// The configuration of `connectorId` (of `tunnelId`) in `state`.
    static func of(tunnelId: String, connectorId: String, in state: ControlState) -> ConnectorConfig {
        Index(state).config(tunnelId: tunnelId, connectorId: connectorId)
    }

    /// The state grouped once, so many connectors' configurations cost one pass.
    struct Index {
        var mappingsByTunnel: [String: [MappingRecord]] = [:]
        var endpointsByConnector: [String: [EndpointRecord]] = [:]
        var forwardsByEndpoint: [String: [ForwardRule]] = [:]

        init(_ state: ControlState) {
            for m in state.mappings.values { mappingsByTunnel[m.tunnelId, default: []].append(m) }
            for e in state.endpoints.values {
                if let c = e.connectorId { endpointsByConnector[c, default: []].append(e) }
            }
            for f in state.forwards.values { forwardsByEndpoint[f.endpointId, default: []].append(f) }
        }

        func config(tunnelId: String, connectorId: String) -> ConnectorConfig {
            let endpoints = endpointsByConnector[connectorId] ?? []
            return ConnectorConfig(
                mappings: mappingsByTunnel[tunnelId] ?? [], endpoints: endpoints,
                forwards: endpoints.flatMap { forwardsByEndpoint[$0.id] ?? [] })
        }
    }

    // MARK: the connector's checks

    /// A stream the node opened (expose mapping or local forward): the target the
    /// connector may dial, or why not. Only the exact target the cluster recorded, and
    /// for a local forward only inside the endpoint's scope.
    func targetForNodeStream(_ d: StreamDescriptor, tunnelId: String) -> Result<String, StreamPolicy.Refusal> {
        guard d.tunnel == tunnelId else { return .failure(.init("not a stream of this tunnel")) }
        switch d.resolvedKind {
        case .expose:
            guard let mapping = mappings.first(where: { $0.id == d.mapping }), mapping.kind == .expose else {
                return .failure(.init("expose mapping \(d.mapping) is not mapped on this connector"))
            }
            guard mapping.target == d.target else {
                return .failure(.init("mapping \(d.mapping) does not target \(d.target) on this connector"))
            }
            return .success(mapping.target)
        case .local:
            guard let rule = forwards.first(where: { $0.id == d.mapping }), rule.kind == .local,
                let endpoint = endpoints.first(where: { $0.id == rule.endpointId })
            else {
                return .failure(.init("local forward \(d.mapping) is not served by this connector"))
            }
            guard rule.target == d.target else {
                return .failure(.init("forward \(rule.id) does not target \(d.target) on this connector"))
            }
            guard StreamPolicy.inScope(target: rule.target, subnets: endpoint.subnets, vpc: endpoint.vpc) else {
                return .failure(.init("target \(rule.target) is outside endpoint \(endpoint.id)'s scope"))
            }
            return .success(rule.target)
        case .publish, .remote:
            return .failure(.init("the node may not open \(d.resolvedKind.rawValue) streams"))
        }
    }

    /// A listener the connector runs on its host: a publish mapping's or a remote
    /// forward's, keyed `kind/id` so a change of port or target restarts it.
    struct Listener: Equatable, Sendable {
        var key: String
        var port: Int
        var descriptor: StreamDescriptor
        /// CIDRs of allowed clients; empty = any.
        var allow: [String]
    }

    /// The listeners this configuration asks for.
    func listeners(tunnelId: String) -> [Listener] {
        var result: [Listener] = []
        for m in mappings where m.kind == .publish {
            result.append(
                Listener(
                    key: "publish/\(m.id)", port: m.listenPort,
                    descriptor: StreamDescriptor(tunnel: tunnelId, mapping: m.id, target: m.target, kind: .publish),
                    allow: m.allow))
        }
        for f in forwards where f.kind == .remote {
            result.append(
                Listener(
                    key: "remote/\(f.id)", port: f.listenPort,
                    descriptor: StreamDescriptor(tunnel: tunnelId, mapping: f.id, target: f.target, kind: .remote),
                    allow: []))
        }
        return result
    }
}
