import Foundation
import Tunnel

/// First run of a connector: fetch the cluster CA and check it against the fingerprint
/// pinned in the connect URL, then send a CSR with the one-time secret over a connection
/// that verifies the node against that CA, and store the identity.
enum ConnectorEnrolment {
    /// `proxy`: an HTTP CONNECT proxy both requests go through.
    static func enrol(_ url: ConnectURL, name: String, stateDir: String, log: NodeLog, proxy: HTTPConnectProxy? = nil)
        throws -> ConnectorIdentity
    {
        // 1. The CA, fetched without verification, trusted only if its fingerprint matches.
        let insecure = TLSConfiguration(clientAuth: .none, verifyPeer: false, alpn: ["http/1.1"])
        let probe = HTTPClient(
            host: url.host, port: url.port, tls: try TLSContext(insecure, side: .client), serverName: url.host,
            timeoutMillis: 10_000)
        probe.proxy = proxy
        defer { probe.close() }
        let caResponse = try probe.send(HTTPClientRequest(path: "/v1/connect/ca"))
        guard caResponse.status == .ok else {
            throw CommandError("\(url.address) answered \(caResponse.status) for the cluster CA")
        }
        let caPEM = String(decoding: caResponse.body, as: UTF8.self)
        let authorities = try Certificate.all(fromPEM: caPEM)
        guard authorities.contains(where: { $0.fingerprintHex.lowercased() == url.caFingerprint }) else {
            throw CommandError(
                "the cluster CA at \(url.address) does not match the fingerprint in the connect URL: "
                    + "refusing to enrol (wrong host, or someone in the middle)")
        }

        // 2. Enrol over a verified connection.
        var verified = TLSConfiguration(trustRootsPEM: caPEM, clientAuth: .none, alpn: ["http/1.1"])
        verified.acceptedPeerRoles = [.node]
        let client = HTTPClient(
            host: url.host, port: url.port, tls: try TLSContext(verified, side: .client), serverName: url.host,
            timeoutMillis: 15_000)
        client.proxy = proxy
        defer { client.close() }
        let key = try PrivateKey.generateP256()
        let csr = try CertificateSigningRequest(key: key, commonName: name)
        let body = try JSONSerialization.data(withJSONObject: [
            "token": url.token, "csr": try csr.pemString(), "name": name,
        ])
        let response = try client.send(
            HTTPClientRequest(
                method: "POST", path: "/v1/connect/\(url.tunnelId)/enrol",
                headers: ["Content-Type": "application/json"], body: Array(body)))
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status.code == 201 else {
            let error: [String: Any] = json["error"] as? [String: Any] ?? [:]
            let code: String = error["code"] as? String ?? "\(response.status.code)"
            let message: String = error["message"] as? String ?? "enrolment refused"
            if code == "invalid_token" {
                throw CommandError("enrolment refused: \(message). Ask an operator for a new connect URL.")
            }
            throw CommandError("enrolment refused (\(code)): \(message)")
        }
        guard let id = json["connectorId"] as? String, let certificate = json["certificate"] as? String else {
            throw CommandError("the enrolment answer is missing the certificate")
        }
        let nodes = [url.address] + ((json["nodes"] as? [String]) ?? []).filter { $0 != url.address }
        let identity = ConnectorIdentity(connectorId: id, tunnelId: url.tunnelId, nodes: nodes)
        try identity.save(stateDir, certificatePEM: certificate, key: key, caPEM: caPEM)
        log.info("enrolled", ["connector": id, "tunnel": url.tunnelId, "stateDir": stateDir])
        return identity
    }
}
