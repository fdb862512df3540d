/// A failure in the cluster PKI: what was being done, why, and OpenSSL's own words.
///
/// Thrown by every throwing API in `Sources/Tunnel/PKI`. `Code` can grow; match on the
/// codes you handle and treat the rest as fatal for the operation.
public struct PKIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// Key generation failed (entropy or provider trouble).
        case keyGeneration
        /// A PEM or DER input could not be parsed.
        case parse
        /// Serialising to PEM failed.
        case encode
        /// Building or signing a certificate or request failed.
        case build
        /// An argument was rejected before reaching OpenSSL (bad name, address, window).
        case invalidInput
        /// A certificate signing request's signature does not verify.
        case badSignature
        /// A private key does not belong to the certificate it was paired with.
        case keyMismatch
        /// The certificate offered as a CA is not one (no `CA:TRUE`).
        case notACertificateAuthority
        /// Reading or writing a file failed.
        case file
    }

    /// The kind of failure.
    public var code: Code
    /// What was being done, with its input (never secret material), e.g. "parse certificate PEM".
    public var operation: String
    /// The OpenSSL error queue (or errno text) at the time, if there was any.
    public var detail: String?

    /// A failure with its context.
    public init(_ code: Code, _ operation: String, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.detail = detail
    }

    /// A one-line message naming the operation and the reason.
    public var description: String {
        if let detail, !detail.isEmpty { return "\(operation): \(detail)" }
        return "\(operation) failed (\(code.rawValue))"
    }
}
