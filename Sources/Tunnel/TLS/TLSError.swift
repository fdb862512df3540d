internal import COpenSSL

/// A TLS failure: what kind, and a message with OpenSSL's own reason strings.
///
/// A value; safe to pass between threads. `Code` can grow: match the codes you handle.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        /// The configuration could not become an SSL_CTX (bad PEM, key mismatch, expired own cert).
        case configuration
        /// The handshake failed, including a rejection the peer reported with an alert
        /// ("tlsv13 alert certificate required", "tlsv1 alert unknown ca").
        case handshake
        /// This side rejected the peer's certificate (chain, validity, name, or none sent).
        case peerVerification
        /// The established session broke (bad record, MAC failure, unexpected message).
        case protocolError
        /// The transport ended without a close_notify.
        case closed
    }

    /// The kind of failure.
    public let code: Code
    /// One line naming what failed and why, e.g. "peer certificate rejected: certificate has expired".
    public let message: String

    /// A failure with its message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message, prefixed with the code.
    public var description: String { "TLS \(code): \(message)" }
}

extension TLSError {
    /// Classifies a failed SSL call from this thread's error queue and the verify result.
    /// Drains the error queue. `duringHandshake` picks `.handshake` over `.protocolError`.
    static func fromSSL(_ ssl: OpaquePointer, duringHandshake: Bool, transportClosed: Bool) -> TLSError {
        var codes: [UInt] = []
        while case let code = ERR_get_error(), code != 0 { codes.append(code) }
        let queue = codes.map(errorString).joined(separator: "; ")
        let detail = queue.isEmpty ? "" : " (OpenSSL: \(queue))"
        let reasons = codes.map { ERR_GET_REASON($0) }

        // With SSL_VERIFY_NONE a failed chain check is recorded but not fatal: ignore it.
        let verifyResult = SSL_get_verify_result(ssl)
        if SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && verifyResult != Int(X509_V_OK) {
            let why = String(cString: X509_verify_cert_error_string(verifyResult))
            return TLSError(.peerVerification, "peer certificate rejected: \(why)\(detail)")
        }
        if reasons.contains(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
            return TLSError(.peerVerification, "peer certificate rejected: peer did not return a certificate\(detail)")
        }
        // Alerts received arrive as reasons SSL_AD_REASON_OFFSET + alert number (ssl.h).
        if let alert = codes.first(where: { isAlert(ERR_GET_REASON($0)) }) {
            let text = reasonString(alert) ?? "alert \(ERR_GET_REASON(alert) - SSL_AD_REASON_OFFSET)"
            return TLSError(.handshake, "peer rejected the session: \(text)\(detail)")
        }
        if transportClosed && (reasons.contains(SSL_R_UNEXPECTED_EOF_WHILE_READING) || codes.isEmpty) {
            return TLSError(.closed, "peer closed the connection without close_notify\(detail)")
        }
        if codes.isEmpty {
            return TLSError(duringHandshake ? .handshake : .protocolError, "TLS call failed with no OpenSSL error")
        }
        let first = reasonString(codes[0]) ?? "error"
        return TLSError(duringHandshake ? .handshake : .protocolError, "\(first)\(detail)")
    }

    private static func errorString(_ code: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        // Safe: the buffer is 256 bytes and ERR_error_string_n NUL-terminates within len.
        buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isAlert(_ reason: Int32) -> Bool {
        reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256
    }

    /// OpenSSL's reason text for a packed error code ("tlsv1 alert unknown ca").
    private static func reasonString(_ code: UInt) -> String? {
        guard let text = ERR_reason_error_string(code) else { return nil }
        return String(cString: text)
    }
}
