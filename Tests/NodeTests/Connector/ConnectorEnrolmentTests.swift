import Foundation
import Testing
import Tunnel

@testable import Node

@Suite("Connector enrolment", .serialized)
struct ConnectorEnrolmentTests {
    @Test func connectURLParsing() throws {
        let url = try ConnectURL(
            parsing: "https://127.0.0.1:7441/v1/connect/t-abc?token=SeCrEt&ca=sha256:" + String(repeating: "Ab", count: 32))
        #expect(url.host == "127.0.0.1" && url.port == 7441 && url.tunnelId == "t-abc" && url.token == "SeCrEt")
        #expect(url.caFingerprint == String(repeating: "ab", count: 32))
        for bad in [
            "http://127.0.0.1/v1/connect/t?token=a&ca=sha256:" + String(repeating: "0", count: 64),
            "https://127.0.0.1/v1/connect/t?ca=sha256:" + String(repeating: "0", count: 64),
            "https://127.0.0.1/v1/connect/t?token=a&ca=sha256:1234",
            "https://127.0.0.1/v1/tunnels/t?token=a&ca=sha256:" + String(repeating: "0", count: 64),
            "not a url",
        ] {
            #expect(throws: ConnectURLError.self) { try ConnectURL(parsing: bad) }
        }
    }

    @Test func enrolsOnceWithThePinnedCAAndBurnsTheSecret() throws {
        let node = try TestNode()
        let created = try node.call("POST", "/v1/tunnels", body: #"{"name":"enrol"}"#, as: .adminCertificate)
        let urlText = try #require(node.json(created)["connectUrl"] as? String)
        var url = try ConnectURL(parsing: urlText)
        url.host = "127.0.0.1"
        url.port = node.port
        let state = node.dir + "/connector"
        let log = NodeLog(node: "connector", minimum: .error)

        // A wrong pin is refused before the secret is ever sent.
        var wrongPin = url
        wrongPin.caFingerprint = String(repeating: "0", count: 64)
        #expect(throws: CommandError.self) {
            try ConnectorEnrolment.enrol(wrongPin, name: "edge", stateDir: state, log: log)
        }
        #expect(try ConnectorIdentity.load(state) == nil)

        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: state, log: log)
        #expect(identity.tunnelId == url.tunnelId)
        let loaded = try #require(try ConnectorIdentity.load(state))
        #expect(loaded == identity)
        let certificate = try Certificate(contentsOfFile: "\(state)/connector.pem")
        #expect(certificate.role == .connector && certificate.roleName == identity.connectorId)
        #expect(certificate.notAfter - certificate.notBefore <= 24 * 3600 + 300)
        let mode = (try FileManager.default.attributesOfItem(atPath: "\(state)/connector-key.pem")[.posixPermissions]
            as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let connectors = try node.call("GET", "/v1/connectors", as: .adminCertificate)
        #expect(String(decoding: connectors.body, as: UTF8.self).lowercased().contains(certificate.serialHex.lowercased()))

        // The secret is single use.
        #expect(throws: CommandError.self) {
            try ConnectorEnrolment.enrol(url, name: "edge2", stateDir: node.dir + "/connector2", log: log)
        }
    }
}
