/// A `warren ctl` failure that is not a usage error: printed as one line after the
/// command's name (`warren ctl tunnel close: 409 already_closed: …`), exit status 1.
struct CtlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The API's stable code (`already_closed`, `forbidden`, …) when the server answered
    /// with an error; nil for connection, session and local failures.
    var apiCode: String?
    /// The HTTP status of an API error; nil otherwise.
    var status: Int?
    /// One line: what failed and what to do.
    var message: String

    init(_ message: String) {
        self.message = message
    }

    init(status: Int, code: String, message: String) {
        self.status = status
        apiCode = code
        self.message = message
    }

    var description: String {
        guard let status, let apiCode else { return message }
        return "\(status) \(apiCode): \(message)"
    }

    /// "run warren ctl login" in one place, so every session problem says the same.
    static func notSignedIn(_ why: String) -> CtlError {
        CtlError("\(why): run warren ctl login (or pass --pki DIR to use the admin certificate)")
    }
}
