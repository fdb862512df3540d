/// Why the state machine refused a command: a stable `code` (the admin API maps it to an
/// HTTP status; the CLI prints it) and a one-line message naming the offending input.
///
/// A value, not an exception: every replica computes the same one for the same command.
/// Messages never quote secret fields (token hashes, password hashes, key material).
struct ControlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable codes. The list can grow; callers treat unknown codes as `invalid_value`.
    enum Code: String, Codable, CaseIterable, Sendable {
        /// The bytes are not a command this version understands (not audited: there is no
        /// trustworthy actor to record).
        case badCommand = "bad_command"
        /// A field is out of range or malformed.
        case invalidValue = "invalid_value"
        /// The actor may not perform the operation.
        case forbidden
        /// The object named does not exist.
        case notFound = "not_found"
        /// An object with that id or name already exists.
        case alreadyExists = "already_exists"
        /// The tunnel is already closed.
        case alreadyClosed = "already_closed"
        /// The tunnel is closed (nothing may be added to it).
        case tunnelClosed = "tunnel_closed"
        /// The listen port is already taken by another mapping or rule of the same kind.
        case portInUse = "port_in_use"
        /// The endpoint still has forwarding rules.
        case hasRules = "has_rules"
        /// A scope (subnet or VPC) already belongs to an endpoint.
        case scopeConflict = "scope_conflict"
        /// A scope to unassociate is not associated with the endpoint.
        case notAssociated = "not_associated"
        /// The connect token does not match, was used, or expired.
        case invalidToken = "invalid_token"
        /// The connector is revoked.
        case revoked
        /// The serial is already on the revoked list.
        case alreadyRevoked = "already_revoked"
        /// Removing the last admin user is refused.
        case lastAdmin = "last_admin"
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { "\(code.rawValue): \(message)" }
}
