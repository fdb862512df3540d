/// Proxy endpoints: jump points for a network scope (a VPC and/or subnets). A subnet or
/// VPC belongs to at most one endpoint; an endpoint with forwarding rules cannot be deleted.
extension ControlState {
    mutating func createEndpoint(_ p: OpPayload.EndpointCreate, _ context: Context) throws(ControlError) -> Applied {
        try Validation.name(p.id, "id")
        try Validation.name(p.name, "name")
        guard endpoints[p.id] == nil else { throw ControlError(.alreadyExists, "endpoint \(p.id) already exists") }
        if let connectorId = p.connectorId {
            guard let connector = connectors[connectorId] else {
                throw ControlError(.notFound, "no connector \(Validation.quoted(connectorId))")
            }
            guard !connector.revoked else { throw ControlError(.revoked, "connector \(connectorId) is revoked") }
        }
        if let vpc = p.vpc {
            try Validation.name(vpc, "vpc")
            try checkVPCFree(vpc, except: p.id)
        }
        let subnets = try Validation.networks(p.subnets, "subnets").map(\.description)
        for subnet in subnets { try checkSubnetFree(subnet, except: p.id) }
        let endpoint = EndpointRecord(
            id: p.id, name: p.name, connectorId: p.connectorId, vpc: p.vpc, subnets: subnets.sorted(),
            createdAt: context.at, createdBy: context.actor.name)
        endpoints[p.id] = endpoint
        return Applied(endpoint, object: "endpoint/\(p.id)", detail: endpoint.scopeSummary)
    }

    /// Adds a VPC and/or subnets to an endpoint, all or nothing.
    mutating func associateEndpoint(_ p: OpPayload.EndpointScope, _ context: Context) throws(ControlError) -> Applied {
        guard var endpoint = endpoints[p.id] else {
            throw ControlError(.notFound, "no endpoint \(Validation.quoted(p.id))")
        }
        guard p.vpc != nil || !p.subnets.isEmpty else { throw ControlError(.invalidValue, "nothing to associate") }
        if let vpc = p.vpc {
            try Validation.name(vpc, "vpc")
            if let current = endpoint.vpc {
                throw ControlError(.scopeConflict, "endpoint \(p.id) already has vpc \(current); unassociate it first")
            }
            try checkVPCFree(vpc, except: p.id)
        }
        let subnets = try Validation.networks(p.subnets, "subnets").map(\.description)
        for subnet in subnets {
            guard !endpoint.subnets.contains(subnet) else {
                throw ControlError(.scopeConflict, "subnet \(subnet) is already associated with endpoint \(p.id)")
            }
            try checkSubnetFree(subnet, except: p.id)
        }
        guard endpoint.subnets.count + subnets.count <= 256 else {
            throw ControlError(.invalidValue, "an endpoint has at most 256 subnets")
        }
        if let vpc = p.vpc { endpoint.vpc = vpc }
        endpoint.subnets = (endpoint.subnets + subnets).sorted()
        endpoints[p.id] = endpoint
        return Applied(endpoint, object: "endpoint/\(p.id)", detail: "associate \(Self.scopeText(p.vpc, subnets))")
    }

    /// Removes a VPC and/or subnets from an endpoint, all or nothing.
    mutating func unassociateEndpoint(_ p: OpPayload.EndpointScope, _ context: Context) throws(ControlError) -> Applied
    {
        guard var endpoint = endpoints[p.id] else {
            throw ControlError(.notFound, "no endpoint \(Validation.quoted(p.id))")
        }
        guard p.vpc != nil || !p.subnets.isEmpty else { throw ControlError(.invalidValue, "nothing to unassociate") }
        if let vpc = p.vpc, vpc != endpoint.vpc {
            throw ControlError(.notAssociated, "vpc \(Validation.quoted(vpc)) is not associated with endpoint \(p.id)")
        }
        let subnets = try Validation.networks(p.subnets, "subnets").map(\.description)
        for subnet in subnets where !endpoint.subnets.contains(subnet) {
            throw ControlError(.notAssociated, "subnet \(subnet) is not associated with endpoint \(p.id)")
        }
        if p.vpc != nil { endpoint.vpc = nil }
        endpoint.subnets.removeAll { subnets.contains($0) }
        endpoints[p.id] = endpoint
        return Applied(endpoint, object: "endpoint/\(p.id)", detail: "unassociate \(Self.scopeText(p.vpc, subnets))")
    }

    mutating func deleteEndpoint(_ p: OpPayload.ByID, _ context: Context) throws(ControlError) -> Applied {
        guard let endpoint = endpoints[p.id] else {
            throw ControlError(.notFound, "no endpoint \(Validation.quoted(p.id))")
        }
        let rules = forwards.values.filter { $0.endpointId == p.id }.map(\.id).sorted()
        guard rules.isEmpty else {
            throw ControlError(
                .hasRules,
                "endpoint \(p.id) has \(rules.count) forwarding rule(s) (\(rules.prefix(5).joined(separator: ", "))); remove them first"
            )
        }
        endpoints[p.id] = nil
        return Applied(endpoint, object: "endpoint/\(p.id)", detail: "deleted")
    }

    private func checkVPCFree(_ vpc: String, except id: String) throws(ControlError) {
        if let owner = endpoints.values.firstByID(where: { $0.vpc == vpc && $0.id != id }) {
            throw ControlError(.scopeConflict, "vpc \(vpc) belongs to endpoint \(owner.id)")
        }
    }

    private func checkSubnetFree(_ subnet: String, except id: String) throws(ControlError) {
        if let owner = endpoints.values.firstByID(where: { $0.subnets.contains(subnet) && $0.id != id }) {
            throw ControlError(.scopeConflict, "subnet \(subnet) belongs to endpoint \(owner.id)")
        }
    }

    private static func scopeText(_ vpc: String?, _ subnets: [String]) -> String {
        var parts: [String] = []
        if let vpc { parts.append("vpc=\(vpc)") }
        if !subnets.isEmpty { parts.append("subnets=\(subnets.joined(separator: ","))") }
        return parts.joined(separator: " ")
    }
}

extension EndpointRecord {
    /// "vpc=… subnets=…" for audit details.
    var scopeSummary: String {
        "vpc=\(vpc ?? "-") subnets=\(subnets.isEmpty ? "-" : subnets.joined(separator: ","))"
    }
}

extension ControlState {
    /// The endpoint that serves `address` (BRIEF: subnet first, then VPC): the endpoint
    /// whose associated subnet contains the address with the longest prefix; failing that,
    /// the endpoint of `vpc`. Ties (impossible while subnets are unique) go to the
    /// smallest id. Pure; nil when nothing matches or the address is not an IP.
    func endpoint(forAddress address: String, vpc: String?) -> EndpointRecord? {
        if let ip = IPAddress(address) {
            var best: (length: Int, endpoint: EndpointRecord)?
            for endpoint in endpoints.values {
                for text in endpoint.subnets {
                    guard let network = IPNetwork(text), network.contains(ip) else { continue }
                    if let current = best,
                        current.length > network.prefixLength
                            || (current.length == network.prefixLength && current.endpoint.id <= endpoint.id)
                    {
                        continue
                    }
                    best = (network.prefixLength, endpoint)
                }
            }
            if let best { return best.endpoint }
        }
        guard let vpc else { return nil }
        return endpoints.values.filter { $0.vpc == vpc }.min { $0.id < $1.id }
    }
}
