/// A failure of a libcrypto primitive or of a decoder in `Sources/Tunnel/Crypto`.
///
/// Thrown by `Scrypt.derive`, `Base64URL.decode` and `Hex.decode`. `Code` can grow.
public struct CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// A parameter was out of range (scrypt cost, output length).
        case invalidParameter
        /// Text that should be Base64URL or hex was not.
        case invalidEncoding
        /// libcrypto refused or failed the operation.
        case library
    }

    /// The kind of failure.
    public var code: Code
    /// What was being done and why it failed (never secret material).
    public var message: String

    /// A failure with its context.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A one-line message naming the operation and the reason.
    public var description: String { "\(message) (\(code.rawValue))" }
}
