/// Mappings (which application is reachable across a tunnel, and from which side) and
/// forwarding rules (local and remote forwards through a proxy endpoint).
extension ControlState {
    mutating func addMapping(_ p: OpPayload.MappingAdd, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.id, "id")
        guard mappings[p.id] == nil else { throw ControlError(.alreadyExists, "mapping \(p.id) already exists") }
        guard let tunnel = tunnels[p.tunnelId] else {
            throw ControlError(.notFound, "no tunnel \(Validation.quoted(p.tunnelId))")
        }
        guard tunnel.state == .open else { throw ControlError(.tunnelClosed, "tunnel \(p.tunnelId) is closed") }
        let target = try Validation.endpointAddress(p.target, "target")
        try Validation.port(p.listenPort, "listenPort")
        let allow = try Validation.networks(p.allow, "allow").map(\.description)
        // Listen ports are unique among the open tunnels' mappings of the same kind.
        if let clash = mappings.values.firstByID(where: {
            $0.kind == p.kind && $0.listenPort == p.listenPort && tunnels[$0.tunnelId]?.state == .open
        }) {
            throw ControlError(.portInUse, "\(p.kind.rawValue) port \(p.listenPort) is used by mapping \(clash.id)")
        }
        // Expose mappings and local forwards both listen on every node's mapping host.
        if p.kind == .expose, let clash = forwards.values.firstByID(where: { $0.kind == .local && $0.listenPort == p.listenPort }) {
            throw ControlError(.portInUse, "gateway port \(p.listenPort) is used by local forward \(clash.id)")
        }
        let mapping = MappingRecord(
            id: p.id, tunnelId: p.tunnelId, kind: p.kind, target: target, listenPort: p.listenPort, allow: allow,
            createdAt: context.at, createdBy: context.actor.name)
        mappings[p.id] = mapping
        return Applied(
            mapping, object: "mapping/\(p.id)",
            detail: "tunnel=\(p.tunnelId) \(p.kind.rawValue) \(target) listen=\(p.listenPort)")
    }

    mutating func removeMapping(_ p: OpPayload.ByID, _ context: Context) throws(ControlError) -> Applied {
        guard let mapping = mappings.removeValue(forKey: p.id) else {
            throw ControlError(.notFound, "no mapping \(Validation.quoted(p.id))")
        }
        return Applied(mapping, object: "mapping/\(p.id)", detail: "tunnel=\(mapping.tunnelId)")
    }

    mutating func addForward(_ p: OpPayload.ForwardAdd, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.id, "id")
        guard forwards[p.id] == nil else { throw ControlError(.alreadyExists, "forward \(p.id) already exists") }
        guard endpoints[p.endpointId] != nil else {
            throw ControlError(.notFound, "no endpoint \(Validation.quoted(p.endpointId))")
        }
        try Validation.port(p.listenPort, "listenPort")
        let target = try Validation.endpointAddress(p.target, "target")
        // Local forwards listen on the gateway (one port space); remote forwards on the
        // endpoint's connector host (one space per endpoint).
        if let clash = forwards.values.firstByID(where: {
            $0.kind == p.kind && $0.listenPort == p.listenPort && (p.kind == .local || $0.endpointId == p.endpointId)
        }) {
            throw ControlError(.portInUse, "\(p.kind.rawValue) port \(p.listenPort) is used by forward \(clash.id)")
        }
        if p.kind == .local, let clash = mappings.values.firstByID(where: {
            $0.kind == .expose && $0.listenPort == p.listenPort && tunnels[$0.tunnelId]?.state == .open
        }) {
            throw ControlError(.portInUse, "gateway port \(p.listenPort) is used by expose mapping \(clash.id)")
        }
        let rule = ForwardRule(
            id: p.id, endpointId: p.endpointId, kind: p.kind, listenPort: p.listenPort, target: target,
            createdAt: context.at, createdBy: context.actor.name)
        forwards[p.id] = rule
        return Applied(
            rule, object: "forward/\(p.id)",
            detail: "endpoint=\(p.endpointId) \(p.kind.rawValue) listen=\(p.listenPort) target=\(target)")
    }

    mutating func removeForward(_ p: OpPayload.ByID, _ context: Context) throws(ControlError) -> Applied {
        guard let rule = forwards.removeValue(forKey: p.id) else {
            throw ControlError(.notFound, "no forward \(Validation.quoted(p.id))")
        }
        return Applied(rule, object: "forward/\(p.id)", detail: "endpoint=\(rule.endpointId)")
    }
}
