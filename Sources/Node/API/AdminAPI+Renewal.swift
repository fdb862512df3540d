import Foundation
import Tunnel

/// Connector certificate renewal and trust pickup, over mutual TLS with the connector's
/// current certificate (the `.connector` access plus `connectorAllowed`: its current
/// serial, not revoked, tunnel open). No restart, no new connect URL: the connector's live
/// session keeps its TLS session; only its next handshakes use the new identity.
extension AdminAPI {
    /// What `GET /v1/connect/:id/trust` answers.
    struct TrustAnswer: Codable, Sendable {
        /// PEM of every CA the cluster trusts now (old first during a CA rotation).
        var ca: String
        /// True when the caller's certificate was not issued by the CA this node signs
        /// with now (a rotation began): renew at once instead of waiting for two thirds.
        var renew: Bool
        /// Lower-case SHA-256 hex of the CA this node signs with.
        var signingCA: String
    }

    /// What `POST /v1/connect/:id/renew` answers (201).
    struct RenewAnswer: Codable, Sendable {
        var connectorId: String
        var certificate: String
        var ca: String
        var serial: String
        /// Unix seconds.
        var notAfter: Int64
        var signingCA: String
    }

    /// `GET /v1/connect/:id/trust`: the trust bundle and whether to renew now.
    func connectorTrust(_ call: APICall) {
        let tunnelId = call.param("id")
        let connectorId = call.principal?.name ?? ""
        guard let certificate = call.request.clientCertificate else { return call.fail(.forbidden("no certificate")) }
        let serial = certificate.serialHex
        let now = APICall.nowMillis()
        let tls = controller.tls
        let pkiDir = controller.config.pkiDir
        let pem = trustedCAsPEM
        read(call) { state -> Result<TrustAnswer, APIError> in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: now).flatMap {
                let authorities = tls.authorities
                guard let signer = try? ConnectorSigner.signingAuthority(pkiDir: pkiDir, trusted: authorities) else {
                    return .failure(.unavailable("this node cannot sign connector certificates now; try another node"))
                }
                let signing = signer.certificate.fingerprintHex.lowercased()
                let issuer = ConnectorSigner.issuer(of: certificate, among: authorities, at: now / 1000)
                return .success(TrustAnswer(ca: pem, renew: issuer != signing, signingCA: signing))
            }
        }
    }

    /// `POST /v1/connect/:id/renew {csr}`: a new certificate for the connector's new key,
    /// recorded (`connector.renew`) before it is returned.
    func renewConnector(_ call: APICall) {
        let tunnelId = call.param("id")
        let connectorId = call.principal?.name ?? ""
        let serial = call.request.clientCertificate?.serialHex ?? ""
        let csrPEM: String
        do { csrPEM = try call.decode { body throws(ConfigError) in try body.requireString("csr") } } catch {
            return call.fail(error)
        }
        let nowMs = APICall.nowMillis()
        let controller = self.controller
        let lifetime = connectorCertificateSeconds
        let pem = trustedCAsPEM
        let node = nodeID
        let source = call.request.remoteAddress
        controller.read(stale: false, { state in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: nowMs)
        }) { result in
            switch result {
            case .failure(let error), .success(.failure(let error)): return call.fail(error)
            case .success(.success): break
            }
            let certificate: Certificate
            let signing: String
            do {
                let csr = try CertificateSigningRequest(pem: csrPEM)
                let ca = try ConnectorSigner.signingAuthority(
                    pkiDir: controller.config.pkiDir, trusted: controller.tls.authorities)
                certificate = try ConnectorSigner.sign(
                    csr, connectorId: connectorId, with: ca, now: nowMs / 1000, lifetimeSeconds: lifetime)
                signing = ca.certificate.fingerprintHex.lowercased()
            } catch let error as APIError {
                return call.fail(error)
            } catch {
                return call.fail(.badRequest("cannot issue a certificate: \(error)", code: "invalid_value"))
            }
            let op = OpPayload.ConnectorRenew(
                id: connectorId, certificateSerial: certificate.serialHex,
                certificateExpiresAt: certificate.notAfter * 1000, caFingerprint: signing)
            let command = ControlCommand(
                at: APICall.nowMillis(), actor: Principal(.connector, connectorId), node: node, source: source,
                op: .connectorRenew(op))
            controller.write(command) { result in
                switch result {
                case .failure(let error): call.fail(error)
                case .success(.error(let refusal)): call.fail(APIError(refusal))
                case .success(.ok):
                    guard let text = try? certificate.pemString() else {
                        return call.fail(APIError(500, "internal", "cannot encode the certificate"))
                    }
                    call.ok(
                        RenewAnswer(
                            connectorId: connectorId, certificate: text, ca: pem, serial: certificate.serialHex,
                            notAfter: certificate.notAfter, signingCA: signing),
                        status: .created)
                }
            }
        }
    }
}
