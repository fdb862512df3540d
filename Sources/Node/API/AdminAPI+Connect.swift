import Foundation
import Tunnel

/// Connector enrolment: a connector proves it holds the tunnel's one-time connect secret
/// and gets a short-lived client certificate signed by the cluster CA for the key it
/// generated (only its CSR travels). The secret is burned by the committed
/// `connector.enrol`; a certificate signed for a refused enrolment is never returned.
extension AdminAPI {
    /// Lifetime of a connector certificate (renewed over the connector's session).
    static let connectorCertificateSeconds: Int64 = 24 * 3600

    /// `GET /v1/connect/ca`: the cluster CA bundle. The connector checks it against the
    /// fingerprint pinned in its connect URL before trusting anything else.
    func connectCA(_ call: APICall) {
        do {
            let pem = try String(contentsOfFile: controller.config.caFile, encoding: .utf8)
            call.send(HTTPResponse(status: .ok, headers: ["Content-Type": "application/x-pem-file"], body: Array(pem.utf8)))
        } catch {
            call.fail(APIError(500, "internal", "cannot read the cluster CA"))
        }
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
        let caPEM: String
        let connectorId = Self.newID("c")
        let now = Int64(Date().timeIntervalSince1970)
        do {
            let csr = try CertificateSigningRequest(pem: request.csr)
            guard csr.isSignatureValid else { throw APIError.badRequest("the CSR's signature does not verify") }
            let ca = try CertificateAuthority.load(
                certificatePath: controller.config.caFile, keyPath: controller.config.caKeyFile)
            let profile = CertificateProfile(
                commonName: connectorId, role: .connector, notBefore: now - 300,
                notAfter: now + Self.connectorCertificateSeconds)
            certificate = try ca.sign(csr, profile: profile)
            caPEM = try String(contentsOfFile: controller.config.caFile, encoding: .utf8)
        } catch let error as APIError {
            return call.fail(error)
        } catch {
            return call.fail(.badRequest("cannot issue a certificate: \(error)", code: "invalid_value"))
        }
        let op = OpPayload.ConnectorEnrol(
            tunnelId: tunnelId, tokenHash: Hex.encode(SHA256.hash(request.token)), connectorId: connectorId,
            name: request.name, certificateSerial: certificate.serialHex, certificateExpiresAt: certificate.notAfter * 1000)
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
