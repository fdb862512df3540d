import Foundation
import Tunnel

@testable import Node

/// A one-node cluster in this process: real PKI, real WAL, real HTTPS on a free port.
final class TestNode: @unchecked Sendable {
    let dir: String
    let pki: String
    let server: NodeServer
    let port: UInt16

    init(
        name: String = "n1", snapshotEveryEntries: Int = 10_000, reuse existing: String? = nil, extraConfig: String = ""
    ) throws {
        dir = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("warren-api-\(UUID().uuidString)").path
        pki = dir + "/pki"
        if existing == nil { _ = try PKIInitCommand.perform(
            .init(directory: pki, nodes: [name], hosts: ["127.0.0.1"], days: 30, caDays: 365, caName: "test CA", force: false),
            now: Int64(Date().timeIntervalSince1970)) }
        let json = """
            {"id": "\(name)", "pki": "\(pki)", "dataDir": "\(dir)/data",
             "listen": {"api": "127.0.0.1:0", "peer": "127.0.0.1:0"},
             "members": [{"id": "\(name)", "api": "127.0.0.1:0", "peer": "127.0.0.1:0"}],
             "raft": {"electionTicks": 10, "heartbeatTicks": 2, "snapshotEveryEntries": \(snapshotEveryEntries)},
             "loops": 1\(extraConfig.isEmpty ? "" : ", " + extraConfig)}
            """
        let config = try NodeConfig.parse(Data(json.utf8), relativeTo: dir)
        server = try NodeServer(config: config, log: NodeLog(node: name, minimum: .error))
        port = server.apiPort
        try waitUntil("the node is ready and has a signing key") {
            (try? self.call("GET", "/readyz").status.code) == 200 && self.server.authenticator.currentKey != nil
        }
    }

    /// Keeps the folder when `keepFiles` (to restart a node from it).
    var keepFiles = false

    func stop() { server.shutdown() }

    deinit {
        server.shutdown()
        if !keepFiles { try? FileManager.default.removeItem(atPath: dir) }
    }

    enum Credential {
        case none
        case adminCertificate
        case token(String)
    }

    /// One request on a fresh connection.
    func call(
        _ method: String, _ path: String, body: String = "", as credential: Credential = .none,
        headers extra: HTTPHeaders = [:]
    ) throws -> HTTPClientResponse {
        var tls = TLSConfiguration(trustRootsPEM: try String(contentsOfFile: "\(pki)/ca.pem", encoding: .utf8))
        var headers = extra
        switch credential {
        case .none: break
        case .adminCertificate:
            tls.certificateChainPEM = try String(contentsOfFile: "\(pki)/admin.pem", encoding: .utf8)
            tls.privateKeyPEM = try String(contentsOfFile: "\(pki)/admin-key.pem", encoding: .utf8)
        case .token(let token): headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if !body.isEmpty { headers.add(name: "Content-Type", value: "application/json") }
        let client = HTTPClient(
            host: "127.0.0.1", port: port, tls: try TLSContext(tls, side: .client), serverName: "127.0.0.1",
            timeoutMillis: 10_000)
        defer { client.close() }
        return try client.send(HTTPClientRequest(method: method, path: path, headers: headers, body: Array(body.utf8)))
    }

    func json(_ response: HTTPClientResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    func errorCode(_ response: HTTPClientResponse) -> String? {
        (json(response)["error"] as? [String: Any])?["code"] as? String
    }

    /// Adds a user with the admin certificate and signs in as them.
    func user(_ name: String, role: String, password: String = "correct horse battery") throws -> String {
        let added = try call(
            "POST", "/v1/users", body: #"{"name":"\#(name)","role":"\#(role)","password":"\#(password)"}"#,
            as: .adminCertificate)
        guard added.status.code == 201 else {
            throw CommandError("user add \(name): \(added.status) \(String(decoding: added.body, as: UTF8.self))")
        }
        let login = try call("POST", "/v1/login", body: #"{"username":"\#(name)","password":"\#(password)"}"#)
        guard login.status.code == 200, let token = json(login)["token"] as? String else {
            throw CommandError("login \(name): \(login.status)")
        }
        return token
    }
}

/// Polls `condition` every 10 ms until it holds; throws after `seconds`.
func waitUntil(_ what: String, seconds: Double = 15, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { throw CommandError("timed out waiting until \(what)") }
        usleep(10_000)
    }
}
