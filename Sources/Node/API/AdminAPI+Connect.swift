import Foundation
import Tunnel

/// Connector enrolment: a connector proves it holds the tunnel's one-time connect secret
/// and gets a short-lived client certificate signed by the cluster CA for the key it
/// generated (only its CSR travels). The secret is burned by the committed
/// `connector.enrol`; a certificate signed for a refused enrolment is never returned.
extension AdminAPI {
    /// Lifetime of the connector certificates this node signs (config, default 24 h).
    var connectorCertificateSeconds: Int64 { Int64(controller.config.connectorCertificateSeconds) }

    /// The CAs this node trusts now (the replicated bundle, or its CA file), as PEM.
    var trustedCAsPEM: String {
        controller.tls.authorities.compactMap { try? $0.pemString() }.joined()
    }

    /// `GET /v1/connect/ca`: the cluster CA bundle. The connector checks it against the
    /// fingerprint pinned in its connect URL before trusting anything else.
    func connectCA(_ call: APICall) {
        let pem = trustedCAsPEM
        guard !pem.isEmpty else { return call.fail(APIError(500, "internal", "cannot encode the cluster CA")) }
        call.send(HTTPResponse(status: .ok, headers: ["Content-Type": "application/x-pem-file"], body: Array(pem.utf8)))
    }

    struct Enrolment: Encodable, Sendable {
        var connectorId: String
        var tunnelId: String
        var certificate: String
        var ca: String
        /// API addresses of the members, for reconnecting when the URL's host is down.
        var nodes: [String]
    }

    /// `POST /v1/connect/:id/enrol {token, csr, name}`.
    func enrolConnector(_ call: APICall) {
        let tunnelId = call.param("id")
        let request: (token: String, csr: String, name: String)
        do {
            request = try call.decode { body throws(ConfigError) in
                (try body.requireString("token"), try body.requireString("csr"), try body.string("name") ?? "connector")
            }
        } catch { return call.fail(error) }
        let certificate: Certificate
        let caPEM = trustedCAsPEM
        let caFingerprint: String
        let connectorId = Self.newID("c")
        let now = Int64(Date().timeIntervalSince1970)
        do {
            let csr = try CertificateSigningRequest(pem: request.csr)
            let ca = try ConnectorSigner.signingAuthority(
                pkiDir: controller.config.pkiDir, trusted: controller.tls.authorities)
            certificate = try ConnectorSigner.sign(
                csr, connectorId: connectorId, with: ca, now: now, lifetimeSeconds: connectorCertificateSeconds)
            caFingerprint = ca.certificate.fingerprintHex.lowercased()
        } catch let error as APIError {
            return call.fail(error)
        } catch {
            return call.fail(.badRequest("cannot issue a certificate: \(error)", code: "invalid_value"))
        }
        let op = OpPayload.ConnectorEnrol(
            tunnelId: tunnelId, tokenHash: Hex.encode(SHA256.hash(request.token)), connectorId: connectorId,
            name: request.name, certificateSerial: certificate.serialHex, certificateExpiresAt: certificate.notAfter * 1000,
            caFingerprint: caFingerprint)
        let command = ControlCommand(
            at: APICall.nowMillis(), actor: Principal(.connector, connectorId), node: nodeID,
            source: call.request.remoteAddress, op: .connectorEnrol(op))
        let controller = self.controller
        controller.write(command) { result in
            switch result {
            case .failure(let error): call.fail(error)
            case .success(.error(let refusal)): call.fail(APIError(refusal))
            case .success(.ok):
                guard let pem = try? certificate.pemString() else {
                    return call.fail(APIError(500, "internal", "cannot encode the certificate"))
                }
                let nodes = controller.config.members.map(\.api)
                call.ok(
                    Enrolment(
                        connectorId: connectorId, tunnelId: tunnelId, certificate: pem, ca: caPEM, nodes: nodes),
                    status: .created)
            }
        }
    }
}
