internal import COpenSSL
internal import CShim

#if canImport(Glibc)
    import Glibc
#endif

/// An immutable, configured `SSL_CTX`: TLS 1.3 only, AES-128-GCM preferred, no session
/// cache or tickets, peer verification per `TLSConfiguration`.
///
/// Safe to share between threads: the SSL_CTX is never modified after init, and OpenSSL
/// allows concurrent `SSL_new` on a configured SSL_CTX.
public final class TLSContext: @unchecked Sendable {
    // Safe: `ctx` and `alpnSelectList` are written only in init; afterwards OpenSSL only
    // reads the SSL_CTX (SSL_new up-refs it) and the ALPN callback only reads the list.
    /// Which end of a connection engines made from this context are.
    public enum Side: Sendable {
        case client, server
    }

    /// Which end engines made from this context are.
    public let side: Side
    /// Own leaf certificate's serial (upper-case hex), or nil without a certificate.
    public let certificateSerialHex: String?
    /// Own leaf certificate, if any.
    public let certificate: Certificate?
    /// Roles a peer's certificate must name; empty accepts any (see TLSConfiguration).
    public let acceptedPeerRoles: Set<CertificateRole>
    /// The configuration's last check of a peer certificate (revocation), if any.
    public let peerCheck: (@Sendable (Certificate) -> String?)?
    /// The owned SSL_CTX, freed on deinit.
    let ctx: OpaquePointer
    /// Server ALPN list for the C select callback (2-byte LE length, then wire format);
    /// must outlive `ctx`'s handshakes, so engines hold their context strongly.
    private let alpnSelectList: UnsafeMutableRawBufferPointer?
    /// The peer check handed to the C verify callback; released after `ctx` is freed.
    private let peerCheckBox: Unmanaged<PeerCheckBox>?

    /// TLS 1.3 cipher suites in preference order (AES-128-GCM is fastest with AES-NI).
    static let cipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    /// Longest certificate chain accepted from a peer (leaf + intermediates + root).
    static let verifyDepthMax: Int32 = 4

    /// Builds the SSL_CTX. Throws `.configuration` for unparsable PEM, a key that does not
    /// match the certificate, an expired own certificate, a server without a certificate,
    /// or peer verification without trust roots.
    public convenience init(_ config: TLSConfiguration, side: Side) throws(TLSError) {
        try self.init(config, side: side, refusingExpiredCertificate: true)
    }

    /// As above; tests pass `refusingExpiredCertificate: false` to stage an expired peer.
    init(_ config: TLSConfiguration, side: Side, refusingExpiredCertificate: Bool) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_method()) else { throw Self.failure("create SSL_CTX") }
        var owned = true
        defer { if owned { SSL_CTX_free(ctx) } }

        guard warren_ssl_ctx_set_min_proto_tls13(ctx) == 1, SSL_CTX_set_ciphersuites(ctx, Self.cipherSuites) == 1
        else { throw Self.failure("restrict to TLS 1.3") }
        warren_ssl_ctx_set_defaults(ctx)
        warren_ssl_ctx_disable_session_cache(ctx)
        warren_ssl_ctx_set_num_tickets0(ctx)
        if config.resumeSessions {
            if side == .client { warren_ssl_ctx_enable_client_resumption(ctx) } else {
                warren_ssl_ctx_enable_server_tickets(ctx)
            }
        }

        let leaf = try Self.installIdentity(ctx, config, refusingExpired: refusingExpiredCertificate)
        guard leaf != nil || side == .client else {
            throw TLSError(.configuration, "a server needs certificateChainPEM and privateKeyPEM")
        }
        let box = config.peerCheck.map { Unmanaged.passRetained(PeerCheckBox($0)) }
        var boxOwned = true
        defer { if boxOwned { box?.release() } }
        try Self.installVerification(ctx, config, side: side, peerCheck: box)
        let alpn = try Self.installALPN(ctx, config.alpn, side: side)

        owned = false
        self.ctx = ctx
        self.side = side
        self.certificate = leaf
        self.acceptedPeerRoles = config.acceptedPeerRoles
        self.peerCheck = config.peerCheck
        self.certificateSerialHex = leaf?.serialHex
        self.alpnSelectList = alpn
        self.peerCheckBox = box
        boxOwned = false
    }

    deinit {
        SSL_CTX_free(ctx)
        alpnSelectList?.deallocate()
        peerCheckBox?.release()
    }

    /// Loads the certificate chain and key; returns the leaf, or nil when neither is set.
    private static func installIdentity(
        _ ctx: OpaquePointer, _ config: TLSConfiguration, refusingExpired: Bool
    ) throws(TLSError) -> Certificate? {
        switch (config.certificateChainPEM, config.privateKeyPEM) {
        case (nil, nil): return nil
        case (nil, _), (_, nil):
            throw TLSError(.configuration, "certificateChainPEM and privateKeyPEM must be given together")
        case (let chainPEM?, let keyPEM?):
            let chain: [Certificate]
            let key: PrivateKey
            do { chain = try Certificate.all(fromPEM: chainPEM) } catch {
                throw TLSError(.configuration, "own certificate chain: \(error)")
            }
            do { key = try PrivateKey(pem: keyPEM) } catch {
                throw TLSError(.configuration, "own private key: \(error)")
            }
            let leaf = chain[0]
            let now = Int64(time(nil))
            if refusingExpired && leaf.notAfter < now {
                throw TLSError(
                    .configuration,
                    "own certificate \(leaf) expired at \(leaf.notAfter) (now \(now)); renew it before starting TLS")
            }
            guard SSL_CTX_use_certificate(ctx, leaf.x509) == 1 else { throw failure("use certificate \(leaf)") }
            for intermediate in chain.dropFirst() {
                guard warren_ssl_ctx_add1_chain_cert(ctx, intermediate.x509) == 1 else {
                    throw failure("add chain certificate \(intermediate)")
                }
            }
            guard SSL_CTX_use_PrivateKey(ctx, key.pkey) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                throw failure("private key does not match own certificate \(leaf)")
            }
            return leaf
        }
    }

    /// Trust roots and the verify mode: server per `clientAuth`, client per `verifyPeer`.
    private static func installVerification(
        _ ctx: OpaquePointer, _ config: TLSConfiguration, side: Side, peerCheck: Unmanaged<PeerCheckBox>?
    ) throws(TLSError) {
        let mode: Int32
        switch (side, config.clientAuth) {
        case (.server, .none): mode = SSL_VERIFY_NONE
        case (.server, .optional): mode = SSL_VERIFY_PEER
        case (.server, .required): mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        case (.client, _): mode = config.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE
        }
        if let rootsPEM = config.trustRootsPEM {
            let roots: [Certificate]
            do { roots = try Certificate.all(fromPEM: rootsPEM) } catch {
                throw TLSError(.configuration, "trust roots: \(error)")
            }
            guard let store = SSL_CTX_get_cert_store(ctx) else { throw failure("get certificate store") }
            for root in roots where X509_STORE_add_cert(store, root.x509) != 1 {
                throw failure("add trust root \(root)")
            }
        } else if mode != SSL_VERIFY_NONE {
            throw TLSError(.configuration, "trustRootsPEM is required to verify the peer's certificate")
        }
        if let peerCheck, mode != SSL_VERIFY_NONE {
            // Safe: the box is retained by the context until after SSL_CTX_free (deinit).
            warren_ssl_ctx_set_peer_check(ctx, mode, peerCheckTrampoline, peerCheck.toOpaque())
        } else {
            SSL_CTX_set_verify(ctx, mode, nil)
        }
        SSL_CTX_set_verify_depth(ctx, verifyDepthMax)
    }

    /// ALPN: the client offers the list; the server selects with a C callback over a
    /// buffer it returns (owned by the context).
    private static func installALPN(
        _ ctx: OpaquePointer, _ names: [String], side: Side
    ) throws(TLSError) -> UnsafeMutableRawBufferPointer? {
        guard !names.isEmpty else { return nil }
        var wire: [UInt8] = []
        for name in names {
            guard (1...255).contains(name.utf8.count) else {
                throw TLSError(.configuration, "ALPN name '\(name)' must be 1–255 bytes")
            }
            wire.append(UInt8(name.utf8.count))
            wire += name.utf8
        }
        guard wire.count <= 0xFFFF else { throw TLSError(.configuration, "ALPN list longer than 65535 bytes") }
        switch side {
        case .client:
            // Safe: OpenSSL copies the list. Note the inverted convention: 0 is success.
            let status = wire.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(ctx, $0.baseAddress, UInt32($0.count)) }
            guard status == 0 else { throw failure("set ALPN protocols \(names)") }
            return nil
        case .server:
            let list = UnsafeMutableRawBufferPointer.allocate(byteCount: wire.count + 2, alignment: 1)
            list[0] = UInt8(wire.count & 0xFF)
            list[1] = UInt8(wire.count >> 8)
            // Safe: `list` has wire.count + 2 bytes; it lives until deinit, after SSL_CTX_free.
            UnsafeMutableRawBufferPointer(rebasing: list[2...]).copyBytes(from: wire)
            warren_ssl_ctx_set_alpn_select(ctx, list.baseAddress!.assumingMemoryBound(to: UInt8.self))
            return list
        }
    }

    private static func failure(_ operation: String) -> TLSError {
        TLSError(.configuration, "\(operation)\(OpenSSLSupport.drainErrors().map { ": \($0)" } ?? "")")
    }
}

/// Holds a configuration's peer check for the C verify callback.
final class PeerCheckBox: Sendable {
    let check: @Sendable (Certificate) -> String?
    init(_ check: @escaping @Sendable (Certificate) -> String?) { self.check = check }
}

/// The C verify callback's call into Swift: 1 accepts the leaf, 0 refuses it (revoked).
private let peerCheckTrampoline: warren_peer_check_fn = { arg, leaf in
    guard let arg, let leaf else { return 1 }
    // Safe: `arg` is the context's retained PeerCheckBox, alive while the context is.
    let box = Unmanaged<PeerCheckBox>.fromOpaque(arg).takeUnretainedValue()
    X509_up_ref(leaf)  // Certificate(owning:) takes one reference and frees it
    guard let certificate = try? Certificate(owning: leaf) else { return 0 }  // fail closed
    return box.check(certificate) == nil ? 1 : 0
}
