import Tunnel

/// An admin API failure: the HTTP status, a stable code and a one-line message, sent as
/// `{"error":{"code":…,"message":…}}` (docs/API.md).
struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    var status: HTTPStatus
    var code: String
    var message: String

    init(_ status: HTTPStatus, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    var description: String { "\(status.code) \(code): \(message)" }

    var response: HTTPResponse { .error(status, code: code, message: message) }

    static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(.badRequest, code, message)
    }
    static func unauthenticated(_ message: String) -> APIError { APIError(.unauthorized, "unauthenticated", message) }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static func unavailable(_ message: String) -> APIError { APIError(503, "unavailable", message) }

    /// The status for a state-machine refusal.
    init(_ error: ControlError) {
        let status: HTTPStatus =
            switch error.code {
            case .badCommand, .invalidValue: .badRequest
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .invalidToken, .revoked: .forbidden
            default: .conflict
            }
        self.init(status, error.code.rawValue, error.message)
    }
}
