import Testing
import Tunnel

@testable import Node

/// Which streams may be dialled, table by table, from state alone (no sockets).
@Suite("Stream policy: mappings, forwards and scopes")
struct StreamPolicyTests {
    static let now: Int64 = 1_000_000

    /// Tunnel t1 (open) with connector c1; tunnel t2 (closed) with c2. Endpoint e1 (c1):
    /// vpc-a and 10.1.0.0/16; e2 (c2): 10.1.2.0/24 (narrower, inside e1's);
    /// e3 (no connector): vpc-b. Mappings and rules of each kind.
    static func state() -> ControlState {
        var s = ControlState()
        func tunnel(_ id: String, _ state: TunnelRecord.State) -> TunnelRecord {
            TunnelRecord(id: id, name: id, owner: "a", createdAt: 0, expiresAt: now + 60_000, state: state)
        }
        s.tunnels = ["t1": tunnel("t1", .open), "t2": tunnel("t2", .closed)]
        func connector(_ id: String, _ tunnel: String) -> ConnectorRecord {
            ConnectorRecord(
                id: id, tunnelId: tunnel, name: id, certificateSerial: "01", certificateExpiresAt: now + 60_000,
                enrolledAt: 0, status: .online, node: "n1", revoked: false)
        }
        s.connectors = ["c1": connector("c1", "t1"), "c2": connector("c2", "t2")]
        func endpoint(_ id: String, _ c: String?, _ vpc: String?, _ subnets: [String]) -> EndpointRecord {
            EndpointRecord(id: id, name: id, connectorId: c, vpc: vpc, subnets: subnets, createdAt: 0, createdBy: "a")
        }
        s.endpoints = [
            "e1": endpoint("e1", "c1", "vpc-a", ["10.1.0.0/16"]), "e2": endpoint("e2", "c2", nil, ["10.1.2.0/24"]),
            "e3": endpoint("e3", nil, "vpc-b", []),
        ]
        func mapping(_ id: String, _ t: String, _ kind: MappingRecord.Kind, _ target: String) -> MappingRecord {
            MappingRecord(id: id, tunnelId: t, kind: kind, target: target, listenPort: 9000, allow: [], createdAt: 0, createdBy: "a")
        }
        s.mappings = [
            "m-exp": mapping("m-exp", "t1", .expose, "127.0.0.1:80"),
            "m-pub": mapping("m-pub", "t1", .publish, "10.9.9.9:5432"),
            "m-pub2": mapping("m-pub2", "t2", .publish, "10.9.9.9:5432"),
        ]
        func rule(_ id: String, _ e: String, _ kind: ForwardRule.Kind, _ target: String) -> ForwardRule {
            ForwardRule(id: id, endpointId: e, kind: kind, listenPort: 7000, target: target, createdAt: 0, createdBy: "a")
        }
        s.forwards = [
            "f-in": rule("f-in", "e1", .local, "10.1.7.7:22"),  // e1's subnet
            "f-vpc": rule("f-vpc", "e1", .local, "db.internal:5432"),  // e1's VPC
            "f-other": rule("f-other", "e1", .local, "10.1.2.5:22"),  // e2's narrower subnet wins
            "f-out": rule("f-out", "e2", .local, "192.168.1.1:22"),  // e2 has no VPC: outside
            "f-rem": rule("f-rem", "e1", .remote, "10.8.8.8:443"),
        ]
        return s
    }

    @Test(arguments: [
        ("f-in", nil),
        ("f-vpc", nil),
        ("f-other", "in the scope of endpoint e2, not e1"),
        ("f-out", "outside endpoint e2's scope"),
    ] as [(String, String?)])
    func aLocalForwardsTargetMustBeServedByItsOwnEndpointSubnetFirst(rule: String, refusal: String?) throws {
        let s = Self.state()
        let r = try #require(s.forwards[rule])
        let why = StreamPolicy.scopeRefusal(target: r.target, endpoint: try #require(s.endpoints[r.endpointId]), in: s)
        if let refusal {
            #expect(why?.contains(refusal) == true, "\(why ?? "nil")")
        } else {
            #expect(why == nil)
        }
    }

    @Test func onlyServedLocalForwardsOfLiveTunnelsGetGatewayListeners() {
        let wanted = StreamPolicy.localForwardListeners(Self.state(), nowMs: Self.now)
        #expect(Set(wanted.keys) == ["forward/f-in", "forward/f-vpc"])
        #expect(wanted["forward/f-in"]?.tunnelId == "t1" && wanted["forward/f-in"]?.target == "10.1.7.7:22")
        // After the tunnel expires nothing is served.
        #expect(StreamPolicy.localForwardListeners(Self.state(), nowMs: Self.now + 60_000).isEmpty)
        if case .failure(let r) = StreamPolicy.localForwardTunnel(Self.state().forwards["f-rem"]!, in: Self.state(), nowMs: Self.now) {
            #expect(r.reason.contains("not a local forward"))
        } else {
            Issue.record("a remote forward got a gateway listener")
        }
    }

    @Test(arguments: [
        // (kind, mapping, target, tunnel, connector, expected target or refusal text)
        (.publish, "m-pub", "10.9.9.9:5432", "t1", "c1", "=10.9.9.9:5432"),
        (.publish, "m-pub", "10.9.9.9:22", "t1", "c1", "does not target"),
        (.publish, "m-exp", "127.0.0.1:80", "t1", "c1", "no publish mapping"),
        (.publish, "m-pub2", "10.9.9.9:5432", "t1", "c1", "no publish mapping"),
        (.publish, "m-pub2", "10.9.9.9:5432", "t2", "c2", "is closed"),
        (.remote, "f-rem", "10.8.8.8:443", "t1", "c1", "=10.8.8.8:443"),
        (.remote, "f-rem", "10.8.8.8:443", "t1", "c9", "served by connector c9"),
        (.remote, "f-in", "10.1.7.7:22", "t1", "c1", "no remote forward"),
        (.expose, "m-exp", "127.0.0.1:80", "t1", "c1", "may not open expose"),
        (.local, "f-in", "10.1.7.7:22", "t1", "c1", "may not open local"),
    ] as [(StreamDescriptor.Kind, String, String, String, String, String)])
    func theNodeDialsOnlyTheRecordedGatewaySideTargetOfAConnectorsStream(
        kind: StreamDescriptor.Kind, mapping: String, target: String, tunnel: String, connector: String, expected: String
    ) {
        let d = StreamDescriptor(tunnel: tunnel, mapping: mapping, target: target, kind: kind)
        let result = StreamPolicy.gatewayTarget(d, tunnelId: tunnel, connectorId: connector, in: Self.state(), nowMs: Self.now)
        switch result {
        case .success(let dialled): #expect("=" + dialled == expected)
        case .failure(let refusal): #expect(refusal.reason.contains(expected), "\(refusal.reason)")
        }
    }

    @Test func aStreamNamingAnotherTunnelIsRefused() {
        let d = StreamDescriptor(tunnel: "t2", mapping: "m-pub2", target: "10.9.9.9:5432", kind: .publish)
        guard case .failure(let r) = StreamPolicy.gatewayTarget(d, tunnelId: "t1", connectorId: "c1", in: Self.state(), nowMs: Self.now)
        else {
            Issue.record("dialled a stream of another tunnel")
            return
        }
        #expect(r.reason.contains("this session is tunnel t1"))
    }

    @Test(arguments: [
        (.expose, "m-exp", "127.0.0.1:80", "=127.0.0.1:80"),
        (.expose, "m-exp", "127.0.0.1:22", "does not target"),
        (.expose, "m-pub", "10.9.9.9:5432", "not mapped"),
        (.local, "f-in", "10.1.7.7:22", "=10.1.7.7:22"),
        (.local, "f-vpc", "db.internal:5432", "=db.internal:5432"),
        (.local, "f-in", "10.1.7.8:22", "does not target"),
        (.local, "f-rem", "10.8.8.8:443", "not served"),
        (.publish, "m-pub", "10.9.9.9:5432", "may not open publish"),
    ] as [(StreamDescriptor.Kind, String, String, String)])
    func theConnectorDialsOnlyWhatItsConfigurationMaps(
        kind: StreamDescriptor.Kind, mapping: String, target: String, expected: String
    ) {
        let config = ConnectorConfig.of(tunnelId: "t1", connectorId: "c1", in: Self.state())
        let d = StreamDescriptor(tunnel: "t1", mapping: mapping, target: target, kind: kind)
        switch config.targetForNodeStream(d, tunnelId: "t1") {
        case .success(let dialled): #expect("=" + dialled == expected)
        case .failure(let refusal): #expect(refusal.reason.contains(expected), "\(refusal.reason)")
        }
    }

    @Test func theConnectorChecksScopeOnItsOwnToo() {
        #expect(StreamPolicy.inScope(target: "10.1.3.4:22", subnets: ["10.1.0.0/16"], vpc: nil))
        #expect(!StreamPolicy.inScope(target: "10.2.3.4:22", subnets: ["10.1.0.0/16"], vpc: nil))
        #expect(StreamPolicy.inScope(target: "10.2.3.4:22", subnets: ["10.1.0.0/16"], vpc: "vpc-a"))
        #expect(StreamPolicy.inScope(target: "[fd00::5]:22", subnets: ["fd00::/8"], vpc: nil))
        #expect(!StreamPolicy.inScope(target: "db.internal:22", subnets: ["10.1.0.0/16"], vpc: nil))
        // A configuration whose endpoint lost its VPC no longer dials the VPC-only rule.
        var s = Self.state()
        s.endpoints["e1"]?.vpc = nil
        let config = ConnectorConfig.of(tunnelId: "t1", connectorId: "c1", in: s)
        let d = StreamDescriptor(tunnel: "t1", mapping: "f-vpc", target: "db.internal:5432", kind: .local)
        guard case .failure(let r) = config.targetForNodeStream(d, tunnelId: "t1") else {
            Issue.record("dialled a target outside the scope")
            return
        }
        #expect(r.reason.contains("outside endpoint e1's scope"))
    }

    @Test func theConfigurationListsItsListenersAndItsVersionFollowsEveryChange() {
        let s = Self.state()
        let config = ConnectorConfig.of(tunnelId: "t1", connectorId: "c1", in: s)
        #expect(config.mappings.map(\.id) == ["m-exp", "m-pub"])
        #expect(config.endpoints.map(\.id) == ["e1"])
        #expect(config.forwards.map(\.id) == ["f-in", "f-other", "f-rem", "f-vpc"])
        let listeners = config.listeners(tunnelId: "t1")
        #expect(listeners.map(\.key) == ["publish/m-pub", "remote/f-rem"])
        #expect(listeners[0].descriptor == StreamDescriptor(tunnel: "t1", mapping: "m-pub", target: "10.9.9.9:5432", kind: .publish))
        #expect(ConnectorConfig.of(tunnelId: "t1", connectorId: "c1", in: s).version == config.version)
        var changed = s
        changed.endpoints["e1"]?.subnets = []
        #expect(ConnectorConfig.of(tunnelId: "t1", connectorId: "c1", in: changed).version != config.version)
        changed = s
        changed.mappings["m-pub2"]?.listenPort = 1  // another tunnel's mapping: not this connector's concern
        #expect(ConnectorConfig.of(tunnelId: "t1", connectorId: "c1", in: changed).version == config.version)
    }

    @Test func descriptorsKeepTheFirstVersionsShapeForExposeStreams() {
        let expose = StreamDescriptor(tunnel: "t1", mapping: "m1", target: "h:1")
        #expect(String(decoding: expose.encoded, as: UTF8.self) == #"{"mapping":"m1","target":"h:1","tunnel":"t1"}"#)
        #expect(StreamDescriptor(tunnel: "t1", mapping: "m1", target: "h:1", kind: .expose) == expose)
        let local = StreamDescriptor.forListener(key: "forward/f1", tunnel: "t1", target: "h:2")
        #expect(String(decoding: local.encoded, as: UTF8.self) == #"{"kind":"local","mapping":"f1","target":"h:2","tunnel":"t1"}"#)
        #expect(local.listenerKey == "forward/f1" && expose.listenerKey == "m1")
        #expect(StreamDescriptor.decode(Array(#"{"kind":"bogus","mapping":"m","target":"h:1","tunnel":"t"}"#.utf8)) == nil)
    }

    @Test func aLiveStreamStaysOnlyWhileItsMappingOrRuleAllowsIt() {
        let s = Self.state()
        func mapped(_ d: StreamDescriptor, in state: ControlState = Self.state()) -> Bool {
            StreamPolicy.stillMapped(d, connectorId: "c1", in: state, nowMs: Self.now)
        }
        let expose = StreamDescriptor(tunnel: "t1", mapping: "m-exp", target: "127.0.0.1:80")
        let publish = StreamDescriptor(tunnel: "t1", mapping: "m-pub", target: "10.9.9.9:5432", kind: .publish)
        let local = StreamDescriptor(tunnel: "t1", mapping: "f-in", target: "10.1.7.7:22", kind: .local)
        let remote = StreamDescriptor(tunnel: "t1", mapping: "f-rem", target: "10.8.8.8:443", kind: .remote)
        #expect(mapped(expose) && mapped(publish) && mapped(local) && mapped(remote))
        // Another target or tunnel than the mapping's: not this mapping's stream.
        #expect(!mapped(StreamDescriptor(tunnel: "t1", mapping: "m-exp", target: "127.0.0.1:81")))
        #expect(!mapped(StreamDescriptor(tunnel: "t2", mapping: "m-exp", target: "127.0.0.1:80")))
        // Each removed: its streams must end.
        for (descriptor, remove) in [
            (expose, { (s: inout ControlState) in s.mappings["m-exp"] = nil }),
            (publish, { (s: inout ControlState) in s.mappings["m-pub"] = nil }),
            (local, { (s: inout ControlState) in s.forwards["f-in"] = nil }),
            (remote, { (s: inout ControlState) in s.forwards["f-rem"] = nil }),
        ] as [(StreamDescriptor, (inout ControlState) -> Void)] {
            var changed = s
            remove(&changed)
            #expect(!mapped(descriptor, in: changed), "\(descriptor.mapping) removed")
        }
        // A local forward whose target left its endpoint's scope, or whose endpoint lost
        // its connector (unassociated), ends too.
        var narrowed = s
        narrowed.endpoints["e1"]?.subnets = ["10.2.0.0/16"]
        narrowed.endpoints["e1"]?.vpc = nil
        #expect(!mapped(local, in: narrowed))
        var unassociated = s
        unassociated.endpoints["e1"]?.connectorId = nil
        #expect(!mapped(local, in: unassociated) && !mapped(remote, in: unassociated))
        // The signature that triggers the walk changes with each of these, not with an
        // unrelated tunnel.
        var other = s
        other.tunnels["t9"] = other.tunnels["t1"]
        #expect(TunnelHub.routeSignature(other) == TunnelHub.routeSignature(s))
        #expect(TunnelHub.routeSignature(narrowed) != TunnelHub.routeSignature(s))
        #expect(TunnelHub.routeSignature(unassociated) != TunnelHub.routeSignature(s))
    }
}
