import Foundation
import Testing
import Tunnel

@testable import Node

/// Three `warren node` processes, a `warren connector` process behind an HTTP CONNECT
/// proxy, and target servers on loopback: every kind of mapping and forwarding rule, with
/// clients entering at each node.
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
        let urlText = try #require(created["connectUrl"] as? String)
        let url = try ConnectURL(parsing: urlText)
        let proxy = try TestConnectProxy()
        let connector = Process()
        connector.executableURL = URL(fileURLWithPath: cluster.binary)
        connector.arguments = [
            "connector", "--url", urlText, "--state-dir", cluster.dir + "/conn", "--name", "edge",
            "--proxy", "http://127.0.0.1:\(proxy.port)", "--bind", "127.0.0.1", "--log-level", "warn",
        ]
        _ = FileManager.default.createFile(atPath: cluster.dir + "/connector.log", contents: nil)
        let connectorLog = try #require(FileHandle(forWritingAtPath: cluster.dir + "/connector.log"))
        connector.standardError = connectorLog
        connector.standardOutput = connectorLog
        try connector.run()
        defer {
            connector.terminate()
            connector.waitUntilExit()
        }
        var connectorId = ""
        try waitUntil("the connector process enrolled and is online", seconds: 20) {
            let list = (try? JSONSerialization.jsonObject(
                with: Data((try? cluster.call("n1", "GET", "/v1/connectors?tunnel=\(url.tunnelId)"))?.body ?? []))) as? [[String: Any]]
            guard let online = list?.first(where: { $0["status"] as? String == "online" }) else { return false }
            connectorId = online["id"] as? String ?? ""
            return true
        }

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
            #"{"name":"edge","connectorId":"\#(connectorId)","vpc":"vpc-lab","subnets":["127.0.0.0/8"]}"#)
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
            var answer: [UInt8] = []
            try waitUntil("the connector carries clients of \(key)") {
                answer = (try? roundTrip(port: port, payload)) ?? []
                return answer == payload
            }
            #expect(answer == payload, "\(key)")
        }
        #expect(published.accepts.value >= 1 && remoteTarget.accepts.value >= 1)
        // Everything the connector said to the cluster went through the proxy.
        #expect(!proxy.connects.isEmpty && proxy.connects.allSatisfy { $0.hasPrefix("CONNECT 127.0.0.1:") })
    }
}
