#if canImport(Glibc)
import Glibc
#endif

/// One client connection, plain or TLS, with blocking semantics built from a
/// non-blocking socket and `poll` (each wait bounded by `timeoutMillis`), and the
/// I/O-free `TLSEngine` for encryption. Not thread-safe: owned by one `HTTPClient`.
final class HTTPClientTransport {
    let fd: Int32
    let tls: TLSEngine?
    /// `HOST:PORT` for messages.
    let peer: String
    let timeoutMillis: Int32
    private var closed = false
    /// True once the server's TLS close_notify arrived: it closed cleanly (not a reset, not
    /// a bare FIN). Warren's server closes a connection cleanly between requests only, so
    /// with no byte of a response seen this means the request was not read (`HTTPClient`).
    private(set) var receivedCloseNotify = false
    /// Bytes the kernel took from this side so far (handshake included): a write that
    /// failed without moving it sent nothing.
    private(set) var bytesSent = 0

    /// Ciphertext read size (one TLS record is at most ~16 KiB; several per read).
    static let readChunkBytes = 64 * 1024

    /// Connects (and handshakes) within `timeoutMillis` per step.
    /// With `proxy`, the TCP connection is a CONNECT tunnel through it to `peer`.
    init(address: SocketAddress?, peer: String, tls context: TLSContext?, serverName: String?, timeoutMillis: Int32,
         proxy: HTTPConnectProxy? = nil)
        throws(HTTPClientError)
    {
        self.peer = peer
        self.timeoutMillis = timeoutMillis
        if let proxy {
            fd = try proxy.open(target: peer, timeoutMillis: timeoutMillis)
        } else {
            guard let address else { throw HTTPClientError(.resolve, "no address for \(peer)") }
            do { fd = try Socket.startConnect(address) } catch {
                throw Self.connectError(error.errno, peer: peer)
            }
        }
        if let context {
            do { tls = try TLSEngine(context: context, serverName: serverName) } catch {
                Glibc.close(fd)
                throw HTTPClientError(.tls, "TLS setup for \(peer): \(error.message)")
            }
        } else {
            tls = nil
        }
        do throws(HTTPClientError) {
            try wait(for: Int16(POLLOUT), "connect to \(peer)")
            let err = Socket.pendingError(fd)
            guard err == 0 else { throw Self.connectError(err, peer: peer) }
            if tls != nil { try handshake() }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    private static func connectError(_ errno: Int32, peer: String) -> HTTPClientError {
        if errno == ECONNREFUSED { return HTTPClientError(.connect, "connect refused to \(peer)") }
        return HTTPClientError(.connect, "cannot connect to \(peer): \(String(cString: strerror(errno)))")
    }

    // MARK: TLS

    private func handshake() throws(HTTPClientError) {
        guard let tls else { return }
        while true {
            switch tls.handshake() {
            case .complete:
                try flushCiphertext()
                return
            case .needMoreInput:
                try flushCiphertext()
                if tls.peerClosedTransport {
                    throw HTTPClientError(.tls, "TLS handshake with \(peer): the server closed the connection")
                }
                try readCiphertext("the TLS handshake")
            case .failed(let error):
                try? flushCiphertext()  // the alert tells the server why
                if tls.peerClosedTransport && error.code == .closed {
                    // No alert, just the end of the stream: nobody refused anything in TLS.
                    throw HTTPClientError(
                        .tls,
                        "TLS handshake with \(peer): the connection was closed before the handshake finished "
                            + "(the server, or a load balancer with no healthy server behind it, dropped it)")
                }
                throw HTTPClientError(.tls, "TLS handshake with \(peer): \(error.message)")
            }
        }
    }

    private func flushCiphertext() throws(HTTPClientError) {
        guard let tls else { return }
        while !tls.outbound.isEmpty {
            let n = try sendSome(tls.outbound.readable)
            tls.outbound.consume(n)
        }
        tls.outbound.releaseIfEmpty()
    }

    /// One socket read into the engine's inbound buffer; sets `peerClosedTransport` at EOF.
    private func readCiphertext(_ what: String) throws(HTTPClientError) {
        guard let tls else { return }
        try wait(for: Int16(POLLIN), what)
        let space = tls.inbound.reserveWritable(Self.readChunkBytes)
        let n = Glibc.recv(fd, space.baseAddress, space.count, 0)
        if n > 0 {
            tls.inbound.commitWritten(n)
        } else if n == 0 || errno == ECONNRESET {
            tls.peerClosedTransport = true
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            throw posixError("read from")
        }
    }

    // MARK: data

    /// Sends all of `bytes`, waiting for the socket as needed.
    func write(_ bytes: [UInt8]) throws(HTTPClientError) {
        if let tls {
            let result = bytes.withUnsafeBytes { tls.write($0) }
            switch result {
            case .success(let n) where n == bytes.count: break
            case .success: throw HTTPClientError(.tls, "TLS session with \(peer) refused application data")
            case .failure(let error): throw HTTPClientError(.tls, "TLS with \(peer): \(error.message)")
            }
            try flushCiphertext()
            return
        }
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(HTTPClientError) -> Int in try sendSome(UnsafeRawBufferPointer(rebasing: raw[sent...])) }
            }
            sent += try result.get()
        }
    }

    /// Reads plaintext into `buffer`; 0 means the server finished (FIN or close_notify).
    func read(into buffer: UnsafeMutableRawBufferPointer, _ what: String) throws(HTTPClientError) -> Int {
        guard let tls else {
            while true {
                try wait(for: Int16(POLLIN), what)
                let n = Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
                if n >= 0 { return n }
                if errno == ECONNRESET { return 0 }
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { throw posixError("read from") }
            }
        }
        while true {
            switch tls.read(into: buffer) {
            case .bytes(let n): return n
            case .closeNotify:
                receivedCloseNotify = true
                return 0
            case .needMoreInput:
                try flushCiphertext()  // post-handshake messages (key update, tickets)
                if tls.peerClosedTransport { return 0 }
                try readCiphertext(what)
            case .failed(let error):
                if tls.peerClosedTransport && tls.inbound.isEmpty { return 0 }
                try? flushCiphertext()
                throw HTTPClientError(.tls, "TLS with \(peer): \(error.message)")
            }
        }
    }

    /// True when the server has closed (or sent unrequested bytes on) this idle
    /// connection, so it must not carry the next request.
    var isUnusable: Bool {
        if closed { return true }
        if let tls, !tls.inbound.isEmpty { return true }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&pfd, 1, 0) != 0
    }

    // MARK: plumbing

    private func sendSome(_ bytes: UnsafeRawBufferPointer) throws(HTTPClientError) -> Int {
        while true {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 {
                bytesSent += n
                return n
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw posixError("write to") }
            try wait(for: Int16(POLLOUT), "sending to \(peer)")
        }
    }

    /// Waits until the socket is ready for `events`, at most `timeoutMillis`.
    private func wait(for events: Int16, _ what: String) throws(HTTPClientError) {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let rc = Glibc.poll(&pfd, 1, timeoutMillis)
            if rc > 0 { return }
            if rc == 0 { throw HTTPClientError(.timeout, "timeout after \(timeoutMillis) ms waiting for \(what)") }
            if errno != EINTR { throw posixError("poll on") }
        }
    }

    private func posixError(_ verb: String) -> HTTPClientError {
        HTTPClientError(.io, "\(verb) \(peer): \(String(cString: strerror(errno)))")
    }
}
