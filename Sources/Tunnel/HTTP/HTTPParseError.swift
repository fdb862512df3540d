/// Why a request could not be parsed, and the status to answer with. After an error the
/// connection's framing is unknown, so the server answers and closes.
///
/// A value, not a thrown error: a malformed request is an expected input (house style:
/// protocol rejections are values).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of rejection; each maps to one status.
    public enum Code: Sendable, Equatable {
        /// 400: malformed syntax, bad framing, request smuggling attempt.
        case badRequest
        /// 413: the body is larger than `HTTPLimits.bodyBytesMax`.
        case bodyTooLarge
        /// 414: the request line is longer than `HTTPLimits.requestLineBytesMax`.
        case uriTooLong
        /// 431: header section too large or too many fields.
        case headersTooLarge
        /// 501: a transfer coding other than `chunked`.
        case unsupportedTransferEncoding
        /// 505: an HTTP version other than 1.0 and 1.1.
        case unsupportedVersion
    }

    public let code: Code
    /// One line naming what was wrong, safe to send back to the client.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The status to answer with.
    public var status: HTTPStatus {
        switch code {
        case .badRequest: .badRequest
        case .bodyTooLarge: .contentTooLarge
        case .uriTooLong: .uriTooLong
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .unsupportedTransferEncoding: .notImplemented
        case .unsupportedVersion: .httpVersionNotSupported
        }
    }

    public var description: String { "HTTP \(status.code): \(message)" }
}
