import Testing

@testable import Node

@Suite("Control state: mappings, endpoints and forwarding rules")
struct ControlStateMappingTests {
    private func mapping(
        _ id: String, tunnel: String = "t1", kind: MappingRecord.Kind = .expose, target: String = "db.internal:5432",
        port: Int = 15432, allow: [String] = []
    ) -> ControlOp {
        .mappingAdd(.init(id: id, tunnelId: tunnel, kind: kind, target: target, listenPort: port, allow: allow))
    }

    @Test func addMappingCanonicalisesTargetAndAllowList() throws {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        let m = try #require(
            h.ok(
                mapping("m1", target: "[2001:DB8::0:1]:443", allow: ["10.1.2.3/8", "2001:db8::/32"]),
                MappingRecord.self))
        #expect(m.target == "[2001:db8::1]:443")
        #expect(m.allow == ["10.0.0.0/8", "2001:db8::/32"])
        let m2 = try #require(h.ok(mapping("m2", target: "DB.Example.COM:80", port: 8080), MappingRecord.self))
        #expect(m2.target == "db.example.com:80")
    }

    @Test func addMappingRefusesEveryInvalidField() {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        h.ok(mapping("m1"), MappingRecord.self)
        h.refused(mapping("m1", port: 1), .alreadyExists)
        h.refused(mapping("m2", tunnel: "none"), .notFound)
        h.refused(mapping("m2", port: 0), .invalidValue)
        h.refused(mapping("m2", port: 65536), .invalidValue)
        for bad in ["db", "db:", ":80", "db:0", "db:99999", "db:08", "[::1:80", "[1.2.3.4]:80", "a b:80", "-x:1"] {
            h.refused(mapping("m2", target: bad, port: 2), .invalidValue)
        }
        for bad in ["10.0.0.0/33", "10.0.0/8", "::/129", "x", "10.0.0.1/", "01.2.3.4/8", "1.2.3.4/08"] {
            h.refused(mapping("m2", port: 2, allow: [bad]), .invalidValue)
        }
        h.refused(mapping("m2", port: 2, allow: ["10.0.0.0/8", "10.0.0.0/8"]), .invalidValue)
        h.refused(mapping("m2", port: 15432), .portInUse)
        h.ok(mapping("m2", kind: .publish, port: 15432), MappingRecord.self)
    }

    @Test func listenPortsAreFreedWhenTheirTunnelCloses() {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        h.ok(h.createTunnel("t2", token: "2"), TunnelRecord.self)
        h.ok(mapping("m1"), MappingRecord.self)
        h.refused(mapping("m2", tunnel: "t2"), .portInUse)
        h.ok(.tunnelClose(.init(id: "t1", reason: .admin)), TunnelRecord.self)
        h.ok(mapping("m2", tunnel: "t2"), MappingRecord.self)
        h.refused(mapping("m3", tunnel: "t1", port: 9), .tunnelClosed)
    }

    @Test func removeMapping() {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        h.ok(mapping("m1"), MappingRecord.self)
        h.ok(.mappingRemove(.init(id: "m1")), MappingRecord.self)
        #expect(h.state.mappings.isEmpty)
        h.refused(.mappingRemove(.init(id: "m1")), .notFound)
    }

    @Test func endpointLifecycleWithScopes() throws {
        let h = Harness()
        let e = try #require(
            h.ok(
                .endpointCreate(.init(id: "e1", name: "vpc-a", vpc: "vpc-a", subnets: ["10.1.0.0/16"])),
                EndpointRecord.self))
        #expect(e.subnets == ["10.1.0.0/16"] && e.vpc == "vpc-a" && e.connectorId == nil)
        let associated = try #require(
            h.ok(.endpointAssociate(.init(id: "e1", subnets: ["10.2.0.0/16", "10.3.0.0/16"])), EndpointRecord.self))
        #expect(associated.subnets == ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"])
        let reduced = try #require(
            h.ok(.endpointUnassociate(.init(id: "e1", vpc: "vpc-a", subnets: ["10.2.0.0/16"])), EndpointRecord.self))
        #expect(reduced.vpc == nil && reduced.subnets == ["10.1.0.0/16", "10.3.0.0/16"])
        h.ok(.endpointDelete(.init(id: "e1")), EndpointRecord.self)
        #expect(h.state.endpoints.isEmpty)
    }

    @Test func endpointRefusals() {
        let h = Harness()
        h.ok(.endpointCreate(.init(id: "e1", name: "a", vpc: "vpc-a", subnets: ["10.1.0.0/16"])), EndpointRecord.self)
        h.refused(.endpointCreate(.init(id: "e1", name: "b", subnets: [])), .alreadyExists)
        h.refused(.endpointCreate(.init(id: "e2", name: "b", vpc: "vpc-a", subnets: [])), .scopeConflict)
        h.refused(.endpointCreate(.init(id: "e2", name: "b", subnets: ["10.1.0.0/16"])), .scopeConflict)
        h.refused(.endpointCreate(.init(id: "e2", name: "b", connectorId: "ghost", subnets: [])), .notFound)
        h.refused(.endpointCreate(.init(id: "e2", name: "b", subnets: ["bad"])), .invalidValue)
        h.refused(.endpointAssociate(.init(id: "zz", subnets: ["10.9.0.0/16"])), .notFound)
        h.refused(.endpointAssociate(.init(id: "e1", subnets: [])), .invalidValue)
        h.refused(.endpointAssociate(.init(id: "e1", vpc: "vpc-b", subnets: [])), .scopeConflict)
        h.refused(.endpointAssociate(.init(id: "e1", subnets: ["10.1.0.0/16"])), .scopeConflict)
        // Batch: one bad subnet refuses the whole batch.
        h.refused(.endpointAssociate(.init(id: "e1", subnets: ["10.8.0.0/16", "nope"])), .invalidValue)
        h.refused(.endpointUnassociate(.init(id: "e1", subnets: ["10.1.0.0/16", "10.7.0.0/16"])), .notAssociated)
        h.refused(.endpointUnassociate(.init(id: "e1", vpc: "vpc-z", subnets: [])), .notAssociated)
        h.refused(.endpointUnassociate(.init(id: "e1", subnets: [])), .invalidValue)
        h.refused(.endpointDelete(.init(id: "zz")), .notFound)
    }

    @Test func anEndpointWithForwardingRulesCannotBeDeleted() {
        let h = Harness()
        h.ok(.endpointCreate(.init(id: "e1", name: "a", subnets: ["10.1.0.0/16"])), EndpointRecord.self)
        h.ok(
            .forwardAdd(.init(id: "f1", endpointId: "e1", kind: .local, listenPort: 2222, target: "10.1.2.3:22")),
            ForwardRule.self)
        h.refused(.endpointDelete(.init(id: "e1")), .hasRules)
        h.ok(.forwardRemove(.init(id: "f1")), ForwardRule.self)
        h.ok(.endpointDelete(.init(id: "e1")), EndpointRecord.self)
    }

    @Test func forwardRuleRefusals() {
        let h = Harness()
        h.ok(.endpointCreate(.init(id: "e1", name: "a", subnets: [])), EndpointRecord.self)
        h.ok(.endpointCreate(.init(id: "e2", name: "b", subnets: [])), EndpointRecord.self)
        func add(_ id: String, _ endpoint: String = "e1", _ kind: ForwardRule.Kind = .local, port: Int = 2222)
            -> ControlOp
        {
            .forwardAdd(.init(id: id, endpointId: endpoint, kind: kind, listenPort: port, target: "10.0.0.1:22"))
        }
        h.ok(add("f1"), ForwardRule.self)
        h.refused(add("f1", port: 1), .alreadyExists)
        h.refused(add("f2", "zz"), .notFound)
        h.refused(add("f2", port: 0), .invalidValue)
        h.refused(add("f2", "e2"), .portInUse)  // local ports are one gateway-wide space
        h.ok(add("f2", "e1", .remote), ForwardRule.self)
        h.refused(add("f3", "e1", .remote), .portInUse)
        h.ok(add("f3", "e2", .remote), ForwardRule.self)  // remote ports are per endpoint
        h.refused(
            .forwardAdd(.init(id: "f4", endpointId: "e1", kind: .local, listenPort: 9, target: "nope")), .invalidValue)
        h.refused(.forwardRemove(.init(id: "zz")), .notFound)
    }

    /// Expose mappings and local forwards share the gateway's port space (both listen on
    /// every node's mapping host): a clash is refused either way, not left to fail to bind.
    @Test func exposeMappingsAndLocalForwardsDoNotShareAGatewayPort() {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        h.ok(.endpointCreate(.init(id: "e1", name: "a", subnets: ["10.0.0.0/8"])), EndpointRecord.self)
        h.ok(mapping("m1", port: 2000), MappingRecord.self)
        h.refused(
            .forwardAdd(.init(id: "f1", endpointId: "e1", kind: .local, listenPort: 2000, target: "10.0.0.1:22")),
            .portInUse)
        h.ok(
            .forwardAdd(.init(id: "f1", endpointId: "e1", kind: .remote, listenPort: 2000, target: "10.0.0.1:22")),
            ForwardRule.self)  // on the connector's host: another port space
        h.ok(
            .forwardAdd(.init(id: "f2", endpointId: "e1", kind: .local, listenPort: 2001, target: "10.0.0.1:22")),
            ForwardRule.self)
        h.refused(mapping("m2", port: 2001), .portInUse)
        h.ok(mapping("m2", kind: .publish, port: 2001), MappingRecord.self)
    }

    @Test func subnetFirstMatchingPrefersTheLongestPrefixOverTheVPC() {
        let h = Harness()
        h.ok(.endpointCreate(.init(id: "wide", name: "w", vpc: "vpc-1", subnets: ["10.0.0.0/8"])), EndpointRecord.self)
        h.ok(.endpointCreate(.init(id: "narrow", name: "n", subnets: ["10.1.2.0/24"])), EndpointRecord.self)
        h.ok(.endpointCreate(.init(id: "v2", name: "v", vpc: "vpc-2", subnets: ["fd00::/8"])), EndpointRecord.self)
        let s = h.state
        #expect(s.endpoint(forAddress: "10.1.2.3", vpc: "vpc-2")?.id == "narrow")
        #expect(s.endpoint(forAddress: "10.1.3.3", vpc: "vpc-2")?.id == "wide")
        #expect(s.endpoint(forAddress: "192.168.0.1", vpc: "vpc-2")?.id == "v2")
        #expect(s.endpoint(forAddress: "192.168.0.1", vpc: nil) == nil)
        #expect(s.endpoint(forAddress: "fd12::1", vpc: nil)?.id == "v2")
        #expect(s.endpoint(forAddress: "db.internal", vpc: "vpc-1")?.id == "wide")
        #expect(s.endpoint(forAddress: "db.internal", vpc: "vpc-9") == nil)
    }
}
