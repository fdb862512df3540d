internal import COpenSSL
internal import CShim

/// One TLS session over two in-memory byte queues: no sockets, so two engines can be
/// paired in memory by shuttling `outbound` of one into `inbound` of the other.
///
/// Not thread-safe: owned by one connection on one event loop. The custom BIO
/// (`TLSEngine+BIO.swift`) serves OpenSSL's reads from `inbound` and appends its writes
/// to `outbound`, so every call may grow `outbound`: flush it after each call, including
/// after a failure (it may hold the alert that tells the peer why).
final class TLSEngine {
    /// Ciphertext from the network. The connection appends (`reserveWritable`/`commitWritten`).
    var inbound = ByteBuffer()
    /// Ciphertext for the network. The connection writes `readable` and `consume()`s it.
    var outbound = ByteBuffer()
    /// Set by the connection at TCP EOF: once `inbound` is drained, BIO reads return EOF.
    var peerClosedTransport = false

    /// The context this engine was made with (kept alive: the server ALPN list lives there).
    let context: TLSContext
    /// The owned `SSL*` (which owns the BIO), freed on deinit.
    private let ssl: OpaquePointer
    /// The first failure; every later call reports it again instead of touching OpenSSL.
    /// Invariant: once set, never cleared.
    private var failure: TLSError?

    /// Result of driving the handshake.
    enum Progress {
        case complete, needMoreInput
        case failed(TLSError)
    }

    /// Result of reading plaintext.
    enum ReadResult {
        case bytes(Int)
        case needMoreInput, closeNotify
        case failed(TLSError)
    }

    /// A session for `context`. Client: `serverName` is sent as SNI (unless an IP literal,
    /// RFC 6066 §3) and, when the context verifies peers, checked against the server
    /// certificate's DNS or IP SANs.
    init(context: TLSContext, serverName: String?) throws(TLSError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw Self.setupFailure("create SSL") }
        self.ssl = ssl
        self.context = context
        guard let bio = BIO_new(TLSEngine.bioMethod) else {
            throw Self.setupFailure("create BIO")  // deinit frees `ssl`
        }
        // Safe: the BIO holds an unretained pointer to self; the BIO is owned by `ssl`,
        // which deinit frees, so the BIO never outlives the engine.
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_bio(ssl, bio, bio)  // one reference, consumed once since rbio == wbio
        switch context.side {
        case .server: SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let serverName { try configureServerName(serverName) }
            _ = warren_ssl_offer_cached_session(ssl)
        }
    }

    deinit { SSL_free(ssl) }

    /// True when this session was resumed from a ticket (no certificates exchanged).
    var isResumed: Bool { SSL_session_reused(ssl) == 1 }

    private func configureServerName(_ name: String) throws(TLSError) {
        let isIP = IPAddressText.parse(name) != nil
        if !isIP && warren_ssl_set_sni(ssl, name) != 1 { throw Self.setupFailure("set SNI \(name)") }
        guard let param = SSL_get0_param(ssl) else { throw Self.setupFailure("get verify parameters") }
        X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NEVER_CHECK_SUBJECT))
        let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0)
        guard ok == 1 else { throw Self.setupFailure("expect peer name \(name)") }
    }

    // MARK: Handshake

    /// Why the verified peer may not use this port (its role, or the context's peer check
    /// such as revocation), or nil when it may.
    private func roleRefusal() -> TLSError? {
        let peer = peerCertificate
        if let check = context.peerCheck, let peer, let why = check(peer) {
            return TLSError(.peerVerification, "peer certificate \(peer.serialHex) refused: \(why)")
        }
        let accepted = context.acceptedPeerRoles
        guard !accepted.isEmpty else { return nil }
        let role = peer?.role
        if let role, accepted.contains(role) { return nil }
        let names = accepted.map(\.rawValue).sorted().joined(separator: ", ")
        return TLSError(
            .peerVerification,
            "peer certificate role \(role?.rawValue ?? "none") is not accepted here (accepts: \(names))")
    }

    /// True once SSL_do_handshake has succeeded. With TLS 1.3 a client can be "complete"
    /// and still be rejected: the server's alert arrives on the first `read`.
    var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Drives the handshake with what `inbound` holds; output lands in `outbound`.
    func handshake() -> Progress {
        if let failure { return .failed(failure) }
        ERR_clear_error()
        let status = SSL_do_handshake(ssl)
        if status == 1 {
            if let refusal = roleRefusal() {
                failure = refusal
                return .failed(refusal)
            }
            return .complete
        }
        switch SSL_get_error(ssl, status) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needMoreInput
        default: return .failed(fail(duringHandshake: true))
        }
    }

    // MARK: Data

    /// Whether input waits to be read without any new bytes from the socket: ciphertext in
    /// `inbound`, or records OpenSSL already pulled from it and holds (`SSL_has_pending`;
    /// with read-ahead it takes more than one record at a time). A reader that paused and
    /// resumes must drain this itself: level-triggered epoll will not fire for it.
    var hasBufferedInput: Bool { !inbound.isEmpty || SSL_has_pending(ssl) == 1 }

    /// Decrypts into `buffer` (SSL_read). Also completes a pending handshake.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        precondition(buffer.count > 0, "read into an empty buffer")
        if let failure { return .failed(failure) }
        ERR_clear_error()
        let status = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if status > 0 { return .bytes(Int(status)) }
        switch SSL_get_error(ssl, status) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needMoreInput
        case SSL_ERROR_ZERO_RETURN: return .closeNotify
        default: return .failed(fail(duringHandshake: !isHandshakeComplete))
        }
    }

    /// Encrypts all of `bytes` into `outbound` once established; before that it returns
    /// how many were taken (possibly 0) while the handshake still needs input.
    func write(_ bytes: UnsafeRawBufferPointer) -> Result<Int, TLSError> {
        if let failure { return .failure(failure) }
        var written = 0
        // Partial writes are on (one record per SSL_write), so loop until all are taken.
        while written < bytes.count {
            ERR_clear_error()
            let chunk = Int32(clamping: bytes.count - written)
            let status = SSL_write(ssl, bytes.baseAddress! + written, chunk)
            if status > 0 {
                written += Int(status)
                continue
            }
            switch SSL_get_error(ssl, status) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .success(written)
            default: return .failure(fail(duringHandshake: !isHandshakeComplete))
            }
        }
        return .success(written)
    }

    /// Sends close_notify once (SSL_shutdown). TLS 1.3 closes only our direction: the peer
    /// may keep sending and `read` keeps working until its close_notify.
    func sendCloseNotify() {
        guard failure == nil, isHandshakeComplete, SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN == 0 else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()  // 0 ("sent, not yet received") is the expected answer
    }

    // MARK: Session facts

    /// The peer's certificate, when it sent one (verified when verification is on).
    var peerCertificate: Certificate? {
        guard let x509 = SSL_get1_peer_certificate(ssl) else { return nil }
        return try? Certificate(owning: x509)
    }

    /// The ALPN protocol both sides agreed on, if any.
    var negotiatedALPN: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        // Safe: OpenSSL points at `length` bytes owned by the SSL, copied here.
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// Server: the SNI name the client sent. Client: the name it sent.
    var requestedServerName: String? {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return nil }
        return String(cString: name)
    }

    // MARK: Failures

    private func fail(duringHandshake: Bool) -> TLSError {
        let error = TLSError.fromSSL(ssl, duringHandshake: duringHandshake, transportClosed: peerClosedTransport)
        failure = error
        return error
    }

    private static func setupFailure(_ operation: String) -> TLSError {
        TLSError(.configuration, "\(operation)\(OpenSSLSupport.drainErrors().map { ": \($0)" } ?? "")")
    }
}
