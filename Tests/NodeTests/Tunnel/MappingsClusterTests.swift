import Foundation
import Testing
import Tunnel

@testable import Node

/// Three `warren node` processes, a connector and target servers on loopback: every kind
/// of mapping and forwarding rule, with clients entering at each node.
@Suite("Mappings and forwards across a 3-node cluster", .serialized)
struct MappingsClusterTests {
    @Test func everyKindOfMappingCarriesChecksummedBytesFromEveryEntryPoint() throws {
        let names = ["n1", "n2", "n3"]
        let cluster = try ProcessCluster(names: names)
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        func create(_ path: String, _ body: String) throws -> String {
            let response = try cluster.call("n2", "POST", path, body: body)
            guard response.status.code == 201, let id = cluster.json(response)["id"] as? String else {
                throw CommandError("POST \(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
            }
            return id
        }
        let created = cluster.json(try cluster.call("n1", "POST", "/v1/tunnels", body: #"{"name":"kinds"}"#))
        let url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        let log = NodeLog(node: "connector", minimum: .error)
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: cluster.dir + "/conn", log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: cluster.dir + "/conn", log: log)
        Thread.detachNewThread { _ = runtime.run() }
        defer { runtime.stop() }

        let exposed = try EchoServer()  // connector side
        let inScope = try EchoServer()  // connector side, inside the endpoint's subnet
        let published = try EchoServer()  // gateway side
        let remoteTarget = try EchoServer()  // gateway side
        let exposePort = try ProcessCluster.freePort()
        let localPort = try ProcessCluster.freePort()
        let outPort = try ProcessCluster.freePort()
        let publishPort = try ProcessCluster.freePort()
        let remotePort = try ProcessCluster.freePort()
        _ = try create(
            "/v1/mappings",
            #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(exposed.port)","listenPort":\#(exposePort)}"#)
        let publish = try create(
            "/v1/mappings",
            #"{"tunnelId":"\#(url.tunnelId)","kind":"publish","target":"127.0.0.1:\#(published.port)","listenPort":\#(publishPort)}"#)
        let endpoint = try create(
            "/v1/endpoints",
            #"{"name":"edge","connectorId":"\#(identity.connectorId)","vpc":"vpc-lab","subnets":["127.0.0.0/8"]}"#)
        _ = try create(
            "/v1/forwards",
            #"{"endpointId":"\#(endpoint)","kind":"local","listenPort":\#(localPort),"target":"127.0.0.1:\#(inScope.port)"}"#)
        // Another endpoint owns 198.51.100.0/24: subnet first, so e1 may not reach it.
        _ = try create("/v1/endpoints", #"{"name":"other","subnets":["198.51.100.0/24"]}"#)
        _ = try create(
            "/v1/forwards",
            #"{"endpointId":"\#(endpoint)","kind":"local","listenPort":\#(outPort),"target":"198.51.100.9:22"}"#)
        let remote = try create(
            "/v1/forwards",
            #"{"endpointId":"\#(endpoint)","kind":"remote","listenPort":\#(remotePort),"target":"127.0.0.1:\#(remoteTarget.port)"}"#)

        let payload = randomPayload(2 << 20, seed: 11)
        for name in names {
            let host = cluster.mappingHost(name)
            for (what, port) in [("expose", exposePort), ("local forward", localPort)] {
                var answer: [UInt8] = []
                try waitUntil("\(what) through \(name) carries a client", seconds: 20) {
                    answer = (try? roundTrip(host: host, port: port, payload)) ?? []
                    return answer == payload
                }
                #expect(answer == payload, "\(what) through \(name)")
            }
            // Outside the endpoint's scope: no node listens for it.
            #expect(throws: CommandError.self) { try roundTrip(host: host, port: outPort, [1]) }
        }
        #expect(exposed.accepts.value >= 3 && inScope.accepts.value >= 3)

        // Publish and remote forward: clients on the connector's host reach gateway-side apps.
        for (key, port) in [("publish/\(publish)", publishPort), ("remote/\(remote)", remotePort)] {
            try waitUntil("the connector listens for \(key)") { runtime.mappings.listeningPorts[key] == port }
            #expect(try roundTrip(port: port, payload) == payload, "\(key)")
        }
        #expect(published.accepts.value == 1 && remoteTarget.accepts.value == 1)
    }
}
