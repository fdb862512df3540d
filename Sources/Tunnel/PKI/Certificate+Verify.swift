internal import COpenSSL
internal import CShim

/// The outcome of checking a certificate chain: a value, not an error (a rejected peer
/// is an expected event, not a failure of the checker).
public enum CertificateVerification: Sendable, Equatable {
    /// The certificate chains to one of the anchors and is valid at the time checked.
    case trusted
    /// Rejected, with OpenSSL's X509_V_ERR code and its text.
    case rejected(Rejection)

    /// Why a certificate was rejected.
    public struct Rejection: Sendable, Equatable, CustomStringConvertible {
        /// OpenSSL's `X509_V_ERR_*` code.
        public var code: Int32
        /// OpenSSL's text for the code, e.g. "certificate has expired".
        public var reason: String
        /// The common kinds, for callers that react differently (metrics, log wording).
        public var kind: Kind {
            switch code {
            case X509_V_ERR_CERT_HAS_EXPIRED: .expired
            case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
                .untrustedIssuer
            case X509_V_ERR_CERT_SIGNATURE_FAILURE: .badSignature
            case X509_V_ERR_INVALID_PURPOSE: .wrongUsage
            default: .other
            }
        }
        /// One line: reason and code.
        public var description: String { "\(reason) (X509_V_ERR \(code))" }
    }

    /// Coarse rejection kinds.
    public enum Kind: Sendable, Equatable {
        /// Past notAfter (X509_V_ERR_CERT_HAS_EXPIRED).
        case expired
        /// Before notBefore (X509_V_ERR_CERT_NOT_YET_VALID).
        case notYetValid
        /// Does not chain to any anchor (unknown or self-signed issuer).
        case untrustedIssuer
        /// A signature in the chain does not verify.
        case badSignature
        /// The leaf's extended key usage does not allow the requested TLS use.
        case wrongUsage
        /// Anything else; see `code` and `reason`.
        case other
    }

    /// True for `.trusted`.
    public var isTrusted: Bool { self == .trusted }
}

extension Certificate {
    /// Verifies this certificate against trust anchors (typically the cluster CA bundle)
    /// at `time` (seconds since the epoch) with OpenSSL's `X509_verify_cert`: signature,
    /// chain to an anchor, validity windows of every certificate, CA constraints.
    /// With `usage`, the leaf must also allow that TLS use (`.serverAuth` for a server's
    /// certificate, `.clientAuth` for a client's; pass one of the two).
    /// Does not check names, roles or revocation — those are policy, checked by the caller.
    /// Safe from any thread.
    public func verify(
        against anchors: [Certificate], at time: Int64, usage: ExtendedKeyUsage? = nil
    ) -> CertificateVerification {
        precondition(usage == nil || usage == .serverAuth || usage == .clientAuth, "verify one usage at a time")
        let purpose: Int32 =
            switch usage {
            case .some(.serverAuth): X509_PURPOSE_SSL_SERVER
            case .some(.clientAuth): X509_PURPOSE_SSL_CLIENT
            default: 0
            }
        let pointers: [OpaquePointer?] = anchors.map { $0.x509 }
        // Safe: the anchors array keeps every X509 alive across the call; the store
        // up-references what it keeps and is freed inside warren_pki_verify.
        let code = withExtendedLifetime(anchors) {
            pointers.withUnsafeBufferPointer { warren_pki_verify(x509, $0.baseAddress, Int32($0.count), time, purpose) }
        }
        ERR_clear_error()
        if code == X509_V_OK { return .trusted }
        if code < 0 { return .rejected(.init(code: code, reason: "verification could not run (out of memory)")) }
        let reason = String(cString: X509_verify_cert_error_string(Int(code)))
        return .rejected(.init(code: code, reason: reason))
    }
}
