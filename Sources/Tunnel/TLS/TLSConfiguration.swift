/// What a TLS endpoint presents and trusts; `TLSContext` turns it into an SSL_CTX.
///
/// A value type, safe to share between threads. Nothing is parsed until `TLSContext.init`.
public struct TLSConfiguration: Sendable {
    /// Whether a server asks for, and insists on, a client certificate.
    public enum ClientAuth: Sendable {
        /// No CertificateRequest is sent.
        case none
        /// A certificate is requested and verified if sent; none is accepted.
        case optional
        /// A verified client certificate is mandatory (mutual TLS, the cluster default).
        case required
    }

    /// Own certificate chain as PEM: the leaf first, then intermediates.
    public var certificateChainPEM: String?
    /// Own private key as PEM (ECDSA P-256, as the cluster PKI issues).
    public var privateKeyPEM: String?
    /// CA certificates used to verify the peer, as PEM.
    public var trustRootsPEM: String?
    /// Server side: whether a client certificate is requested and required.
    public var clientAuth: ClientAuth
    /// Client side: verify the server's chain, and its name when the engine has one.
    public var verifyPeer: Bool
    /// ALPN protocol names in preference order; empty sends/accepts none.
    public var alpn: [String]
    /// TLS 1.3 resumption (off by default). Client: offer the last ticket this context
    /// received, so use one client context per server identity. Server: issue tickets.
    /// A resumed session skips certificate verification, so whoever enables it must
    /// re-check the peer's serial against revocations on resume.
    public var resumeSessions: Bool = false
    /// Roles (from the `warren://ROLE/NAME` URI SAN) a peer certificate must carry; empty
    /// accepts any role. Each port accepts only its roles (peer port: `.node`).
    public var acceptedPeerRoles: Set<CertificateRole> = []
    /// A last check of the verified peer certificate, run on every completed handshake
    /// after the chain and role checks — resumed ones too (their certificate comes from
    /// the ticket), so a serial revoked after the ticket was issued is still refused.
    /// Returns why the peer is refused, or nil to accept. Called on the connection's event
    /// loop: it must be fast and thread-safe (the node reads a locked revocation set).
    public var peerCheck: (@Sendable (Certificate) -> String?)? = nil

    /// A configuration; every field can also be set afterwards.
    public init(
        certificateChainPEM: String? = nil, privateKeyPEM: String? = nil, trustRootsPEM: String? = nil,
        clientAuth: ClientAuth = .required, verifyPeer: Bool = true, alpn: [String] = []
    ) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.trustRootsPEM = trustRootsPEM
        self.clientAuth = clientAuth
        self.verifyPeer = verifyPeer
        self.alpn = alpn
    }

    /// Reads the certificate chain, key and CA bundle from PEM files, with the defaults
    /// above. Throws `TLSError(.configuration)` naming the unreadable file.
    public static func files(certificate: String, key: String, ca: String) throws -> TLSConfiguration {
        func read(_ path: String) throws(TLSError) -> String {
            do { return try PKIFile.readText(path) } catch {
                throw TLSError(.configuration, "cannot read \(path): \(error)")
            }
        }
        return TLSConfiguration(
            certificateChainPEM: try read(certificate), privateKeyPEM: try read(key), trustRootsPEM: try read(ca))
    }
}
