import Foundation
import Tunnel

/// Which CA this node signs connector certificates with, and the signing itself.
///
/// CA private keys never enter the replicated state (a snapshot, a log or an audit record
/// could leak them): each node reads them from its PKI folder, where the operator put them
/// — `ca.pem`/`ca-key.pem`, and during a CA rotation `ca-next.pem`/`ca-next-key.pem`.
/// The node signs with the newest CA of its trust roots (the replicated bundle's order:
/// old first, new last) whose key it holds, so once a rotation has begun, every node that
/// holds the new key issues under the new CA, and one that does not still issues under the
/// old one (still trusted during the overlap) and says so in the log and `cert status`.
///
/// Stateless; reads the files on every call (signing is rare: enrolment and renewal).
enum ConnectorSigner {
    /// The PKI file stems a node looks for CA keys under.
    static let caStems = ["ca", "ca-next"]

    /// The CAs whose certificate and key this node holds, by lower-case SHA-256 hex.
    static func heldAuthorities(pkiDir: String) -> [String: CertificateAuthority] {
        var held: [String: CertificateAuthority] = [:]
        for stem in caStems {
            let certificate = "\(pkiDir)/\(stem).pem"
            let key = "\(pkiDir)/\(stem)-key.pem"
            guard FileManager.default.fileExists(atPath: key),
                let ca = try? CertificateAuthority.load(certificatePath: certificate, keyPath: key)
            else { continue }
            held[ca.certificate.fingerprintHex.lowercased()] = ca
        }
        return held
    }

    /// The newest of `trusted` (last first) this node can sign with.
    static func signingAuthority(pkiDir: String, trusted: [Certificate]) throws -> CertificateAuthority {
        let held = heldAuthorities(pkiDir: pkiDir)
        for ca in trusted.reversed() {
            if let authority = held[ca.fingerprintHex.lowercased()] { return authority }
        }
        throw CommandError(
            "this node holds the key of none of the trusted CAs (looked for \(caStems.map { "\($0)-key.pem" }.joined(separator: ", ")) in \(pkiDir))")
    }

    /// A connector certificate for `csr` (after checking its signature), valid from five
    /// minutes ago (clock skew) for `lifetimeSeconds`.
    static func sign(
        _ csr: CertificateSigningRequest, connectorId: String, with ca: CertificateAuthority, now: Int64,
        lifetimeSeconds: Int64
    ) throws -> Certificate {
        guard csr.isSignatureValid else { throw APIError.badRequest("the CSR's signature does not verify") }
        let profile = CertificateProfile(
            commonName: connectorId, role: .connector, notBefore: now - CertificateProfile.clockSkewSeconds,
            notAfter: now + lifetimeSeconds)
        return try ca.sign(csr, profile: profile)
    }

    /// Which of `authorities` issued `certificate` (lower-case SHA-256 hex), if any.
    static func issuer(of certificate: Certificate, among authorities: [Certificate], at now: Int64) -> String? {
        for ca in authorities {
            if case .trusted = certificate.verify(against: [ca], at: min(now, certificate.notAfter - 1), usage: nil) {
                return ca.fingerprintHex.lowercased()
            }
        }
        return nil
    }
}
