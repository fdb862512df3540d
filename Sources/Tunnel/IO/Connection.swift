#if canImport(Glibc)
import Glibc
#endif
import CShim

/// One TCP stream, plain or TLS, on one event loop.
///
/// Threading: created, used and closed on its loop's thread only. Delegate callbacks
/// are fired from event handling (or deferred to the end of the current event), never
/// re-entrantly from inside a call such as `write`.
///
/// Backpressure: `write` never refuses bytes, but once pending output reaches the high
/// watermark `isWritable` turns false; a well-behaved producer (the relay) then stops
/// reading its source until `connectionDidDrain` fires at the low watermark. Pending
/// output is therefore bounded by the high watermark plus one read chunk.
final class Connection: EventHandler {
    enum State { case connecting, handshaking, active, closed }

    let loop: EventLoop
    let fd: Int32
    let limits: ConnectionLimits
    var delegate: (any ConnectionDelegate)?
    /// Set (with `delegate`) by a delegate that supplies its own read buffers; plain only.
    /// Cleared at close, like `delegate`.
    var readTarget: (any ConnectionReadTarget)?
    private(set) var state: State
    private(set) var tls: TLSEngine?
    private var registration: EventLoop.Registration?
    private var interest: UInt32 = 0

    /// Plain output not yet accepted by the kernel (TLS output lives in `tls.outbound`).
    private var outbound = ByteBuffer()
    /// Plaintext written before the connection became active.
    private var early = ByteBuffer()
    private(set) var isReadPaused = false
    /// Most bytes one plain read may take (a mux bridge sets it to its stream's send
    /// window, so it never reads more than it can forward). Must stay ≥ 1.
    var readBytesMax = Int.max
    private(set) var readEOF = false
    private var writeShutdownRequested = false
    private var writeShutdownDone = false
    private var aboveHighWatermark = false
    private var lastActivityNanos = MonotonicClock.nowNanos()
    private var handshakeTimer: TimerHandle?
    private var idleTimer: TimerHandle?
    private var closeError: (any Error)?
    private var activated = false
    private var closeNotifyQueued = false
    /// The outcome of the last `read(into:)`: bytes read, 0 at EOF, -1 on error (then
    /// `inPlaceErrno`), or `notRead` when the read target did not read.
    private var inPlaceResult = 0
    private var inPlaceErrno: Int32 = 0
    private static let notRead = -2

    /// Bytes a single read pulls from the kernel; also the TLS ciphertext read size.
    static let readChunkBytes = 512 * 1024
    /// Decrypted bytes gathered before they go to the delegate in one `didRead`.
    static let plainBatchBytes = 256 * 1024
    /// The most plaintext one TLS record carries.
    static let tlsRecordPlaintextBytes = 16 * 1024

    /// Wraps an accepted socket. `tls` makes it the server side of a handshake.
    init(loop: EventLoop, acceptedFD fd: Int32, tls context: TLSContext?, limits: ConnectionLimits) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.fd = fd
        self.limits = limits
        Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if let context {
            tls = try TLSEngine(context: context, serverName: nil)
            state = .handshaking
        } else {
            state = .active
        }
    }

    /// Wraps a socket this side already connected (through an HTTP CONNECT proxy, say);
    /// with `tls`, the client side of a handshake that checks the server's certificate
    /// against `serverName`. The socket must be non-blocking; ownership moves here.
    init(loop: EventLoop, connectedFD fd: Int32, tls context: TLSContext?, serverName: String?,
         limits: ConnectionLimits) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.fd = fd
        self.limits = limits
        Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if let context {
            do { tls = try TLSEngine(context: context, serverName: serverName) } catch {
                Glibc.close(fd)
                throw error
            }
            state = .handshaking
        } else {
            state = .active
        }
    }

    /// Starts connecting to `address`; with `tls`, the client side of a handshake that
    /// checks the server's certificate against `serverName` (host name or IP).
    init(loop: EventLoop, connectTo address: SocketAddress, tls context: TLSContext?, serverName: String?,
         limits: ConnectionLimits) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.limits = limits
        fd = try Socket.startConnect(address)
        if let context {
            do { tls = try TLSEngine(context: context, serverName: serverName) } catch {
                Glibc.close(fd)
                throw error
            }
        }
        state = .connecting
    }

    /// Registers with the loop and arms the timers; call once, after setting `delegate`.
    func start() throws {
        // Registered with the interest it needs now: one epoll_ctl, not an ADD then a MOD.
        interest = wantedInterest()
        registration = try loop.register(fd: fd, events: interest, handler: self)
        let deadline = limits.handshakeTimeoutNanos
        if state != .active {
            handshakeTimer = loop.schedule(afterNanos: deadline) { [weak self] in
                guard let self, self.state != .active, self.state != .closed else { return }
                self.fail(SocketError(.timeout, "connect/handshake did not finish within \(deadline / 1_000_000) ms"))
            }
        }
        armIdleTimer()
        if state == .handshaking {
            driveHandshake()
        } else if state == .active {
            loop.deferToEndOfEvent { [weak self] in self?.becomeActive() }
        }
        updateInterest()
    }

    // MARK: public surface

    /// Output accepted but not yet taken by the kernel, plus plaintext held before activation.
    var pendingBytes: Int { outbound.count + early.count + (tls?.outbound.count ?? 0) }

    /// False once pending output reached the high watermark, until it drains to the low one.
    var isWritable: Bool { !aboveHighWatermark }

    var isClosed: Bool { state == .closed }

    /// Queues bytes for the peer (encrypting them first on TLS) and writes what the
    /// kernel takes now.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed, !writeShutdownRequested, bytes.count > 0 else { return }
        if state != .active {
            early.append(bytes)
        } else if let tls {
            switch tls.write(bytes) {
            case .success: flushOutput()
            case .failure(let error): failLater(error)
            }
        } else if outbound.isEmpty {
            let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
            if n >= 0 {
                if n < bytes.count { outbound.append(UnsafeRawBufferPointer(rebasing: bytes[n...])) }
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                outbound.append(bytes)
            } else {
                failLater(SocketError.posix(.io, "write"))
            }
        } else {
            outbound.append(bytes)
        }
        if pendingBytes >= limits.highWatermarkBytes { aboveHighWatermark = true }
        touch()
        updateInterest()
    }

    /// Reads what has already arrived, now, as a readable event would. For a socket just
    /// accepted whose first bytes should travel with its setup (a carried stream's OPEN
    /// and first DATA in one message): one `read` that may find nothing. Active only.
    func readNow() {
        guard state == .active, activated else { return }
        handleEvents(EpollEvents.readable)
    }

    func pauseReading() {
        guard !isReadPaused else { return }
        isReadPaused = true
        updateInterest()
    }

    func resumeReading() {
        guard isReadPaused, state != .closed else { return }
        isReadPaused = false
        updateInterest()
        // Buffered TLS input (ciphertext, or records OpenSSL already holds) would never wake
        // level-triggered epoll.
        if let tls, tls.hasBufferedInput, state == .active {
            loop.deferToEndOfEvent { [weak self] in self?.decryptAndDeliver() }
        }
    }

    /// Half-close: sends FIN (after TLS close_notify) once pending output is flushed;
    /// reading continues until the peer closes too.
    func shutdownWrite() {
        guard state != .closed, !writeShutdownRequested else { return }
        writeShutdownRequested = true
        if state == .active { finishWriteSide() }
    }

    /// Closes now, dropping pending output; the delegate hears of it at the end of the event.
    func close(_ error: (any Error)? = nil) {
        guard state != .closed else { return }
        state = .closed
        closeError = error
        handshakeTimer?.cancel()
        idleTimer?.cancel()
        // The fd is this connection's alone and is closed at once: closing removes it
        // from the epoll set (no DEL needed).
        if let registration { loop.deregisterClosing(registration) }
        registration = nil
        Glibc.close(fd)
        outbound.releaseIfEmpty()
        loop.deferToEndOfEvent { [self] in
            let delegate = self.delegate
            self.delegate = nil
            self.readTarget = nil
            delegate?.connection(self, didCloseWith: self.closeError)
        }
    }

    // MARK: events

    func handleEvents(_ events: UInt32) {
        guard state != .closed else { return }
        if state == .connecting {
            guard events & (EpollEvents.writable | EpollEvents.error | EpollEvents.hangup) != 0 else { return }
            let err = Socket.pendingError(fd)
            guard err == 0 else { return fail(SocketError.posix(.connect, "connect", errno: err)) }
            if tls != nil {
                state = .handshaking
                driveHandshake()
            } else {
                becomeActive()
            }
            updateInterest()
            return
        }
        if events & EpollEvents.writable != 0 { flushOutput() }
        if state != .closed && events & (EpollEvents.readable | EpollEvents.hangup | EpollEvents.error) != 0
            && !isReadPaused && !readEOF
        {
            if tls != nil { readTLS() } else { readPlain() }
        }
        guard state != .closed else { return }
        if events & (EpollEvents.error | EpollEvents.hangup) != 0 && state == .active && (isReadPaused || readEOF)
            && !writeShutdownDone
        {
            // epoll reports these whatever the interest: a socket reset while its reading is
            // paused or over would wake the loop for ever (a hang-up with this side's write
            // still open is a reset too). Reading would have failed; fail now instead.
            let err = Socket.pendingError(fd)
            return fail(err != 0 ? SocketError.posix(.io, "socket", errno: err) : SocketError(.io, "connection reset by the peer"))
        }
        if aboveHighWatermark && pendingBytes <= limits.lowWatermarkBytes {
            aboveHighWatermark = false
            delegate?.connectionDidDrain(self)
        }
        updateInterest()
    }

    private func readPlain() {
        let scratch = loop.readScratch
        for _ in 0..<4 {
            guard state == .active, !isReadPaused, !readEOF else { return }
            let wanted = min(scratch.count, max(1, readBytesMax))
            var n: Int
            var readErrno: Int32 = 0
            inPlaceResult = Self.notRead
            if let readTarget, readTarget.connection(self, readInPlace: wanted) {
                // The target read into its own buffer and took the bytes already.
                n = inPlaceResult
                readErrno = inPlaceErrno
                if n == Self.notRead { return }
                if n > 0 { touch() }
            } else {
                n = Glibc.read(fd, scratch.baseAddress, wanted)
                if n < 0 { readErrno = errno }
                if n > 0 {
                    touch()
                    delegate?.connection(self, didRead: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                }
            }
            if n > 0 {
                if n < wanted { return }
            } else if n == 0 {
                peerFinished()
                return
            } else {
                if readErrno != EAGAIN && readErrno != EWOULDBLOCK {
                    fail(SocketError.posix(.io, "read", errno: readErrno))
                }
                return
            }
        }
    }

    /// For a `readTarget` inside `connection(_:readInPlace:)`: one `read(2)` into
    /// `buffer`. Returns the bytes read (0 at end of stream or on an error, which the
    /// connection handles once the target returns).
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(inPlaceResult == Self.notRead, "read(into:) outside readInPlace, or twice in one")
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        inPlaceResult = n
        inPlaceErrno = n < 0 ? errno : 0
        return max(n, 0)
    }

    private func readTLS() {
        guard let tls else { return }
        let space = tls.inbound.reserveWritable(Self.readChunkBytes)
        let n = Glibc.read(fd, space.baseAddress, space.count)
        if n > 0 {
            tls.inbound.commitWritten(n)
            touch()
        } else if n == 0 {
            tls.peerClosedTransport = true
        } else if errno != EAGAIN && errno != EWOULDBLOCK {
            return fail(SocketError.posix(.io, "read"))
        }
        if state == .handshaking {
            driveHandshake()
        } else {
            decryptAndDeliver()
        }
        // An idle TLS connection keeps no ciphertext buffer (only a partial record, if any).
        if state != .closed { tls.inbound.releaseIfEmpty() }
    }

    /// Decrypts what is buffered and hands it to the delegate until input runs out or
    /// the delegate pauses reading. Records (16 KiB of plaintext each) are gathered in
    /// the scratch buffer and handed over together, up to `plainBatchBytes` at a time:
    /// one `didRead` — for a relay one `write` syscall — per batch, not per record.
    private func decryptAndDeliver() {
        guard let tls else { return }
        let scratch = loop.plainScratch
        let batchMax = min(scratch.count, Self.plainBatchBytes)
        var filled = 0
        /// Hands the gathered plaintext over; false when the delegate paused or closed us.
        func deliverGathered() {
            guard filled > 0 else { return }
            let count = filled
            filled = 0
            delegate?.connection(self, didRead: UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
        }
        while state == .active && !isReadPaused && !readEOF {
            switch tls.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[filled..<batchMax])) {
            case .bytes(let n):
                filled += n
                // Room for less than a whole record: hand over what is there first.
                if batchMax - filled < Self.tlsRecordPlaintextBytes { deliverGathered() }
            case .needMoreInput:
                deliverGathered()
                guard state == .active, !readEOF else { return flushOutput() }
                if tls.peerClosedTransport { peerFinished() }
                flushOutput()
                return
            case .closeNotify:
                deliverGathered()
                guard state == .active else { return flushOutput() }
                peerFinished()
            case .failed(let error):
                deliverGathered()
                guard state == .active else { return flushOutput() }
                // A TCP FIN without close_notify ends the stream like a FIN on plain TCP.
                if tls.peerClosedTransport && tls.inbound.isEmpty { peerFinished() } else { fail(error) }
            }
        }
        deliverGathered()
        flushOutput()
    }

    private func driveHandshake() {
        guard let tls else { return }
        switch tls.handshake() {
        case .complete:
            flushOutput()
            becomeActive()
            // Application records may have come with the handshake's last flight: in
            // `inbound`, or (with read-ahead) already inside OpenSSL, where `inbound` is
            // empty and epoll will not fire for them.
            if state == .active && tls.hasBufferedInput { decryptAndDeliver() }
        case .needMoreInput:
            flushOutput()
            if tls.peerClosedTransport {
                fail(TLSError(.handshake, "peer closed the connection during the TLS handshake"))
            }
        case .failed(let error):
            flushOutput()
            fail(error)
        }
    }

    private func becomeActive() {
        guard state != .closed, !activated else { return }
        activated = true
        state = .active
        handshakeTimer?.cancel()
        handshakeTimer = nil
        if !early.isEmpty {
            let held = early.readable
            // Safe: `early` is not mutated while `held` is used (write() appends to it
            // only when not active, and state is now active).
            if let tls {
                if case .failure(let error) = tls.write(held) { return fail(error) }
            } else {
                outbound.append(held)
            }
            early.consume(early.count)
            early.releaseIfEmpty()
            flushOutput()
        }
        if writeShutdownRequested { finishWriteSide() }
        delegate?.connectionDidBecomeActive(self)
    }

    private func peerFinished() {
        guard !readEOF else { return }
        readEOF = true
        delegate?.connectionDidReadEOF(self)
        closeIfBothSidesDone()
    }

    /// Writes pending output until the kernel pushes back.
    private func flushOutput() {
        guard state != .closed, state != .connecting else { return }
        if let tls {
            drain(&tls.outbound)
        } else {
            drain(&outbound)
        }
        if writeShutdownRequested && state == .active { finishWriteSide() }
    }

    private func drain(_ buffer: inout ByteBuffer) {
        while !buffer.isEmpty {
            let bytes = buffer.readable
            let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
            if n > 0 {
                buffer.consume(n)
            } else {
                if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { failLater(SocketError.posix(.io, "write")) }
                return
            }
        }
        if buffer.capacity > 4 * Self.readChunkBytes { buffer.releaseIfEmpty() }
    }

    private func finishWriteSide() {
        guard !writeShutdownDone else { return }
        if let tls, !closeNotifyQueued {
            closeNotifyQueued = true
            tls.sendCloseNotify()
            drain(&tls.outbound)
        }
        guard pendingBytes == 0 else { return }
        writeShutdownDone = true
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        closeIfBothSidesDone()
    }

    private func closeIfBothSidesDone() {
        if readEOF && writeShutdownDone { close(nil) }
    }

    private func updateInterest() {
        guard let registration, state != .closed else { return }
        let wanted = wantedInterest()
        if wanted != interest {
            interest = wanted
            loop.modify(registration, events: wanted)
        }
    }

    private func wantedInterest() -> UInt32 {
        if state == .connecting { return EpollEvents.writable }
        var wanted: UInt32 = 0
        if (!isReadPaused || state == .handshaking) && !readEOF { wanted |= EpollEvents.readable }
        if pendingBytes - early.count > 0 { wanted |= EpollEvents.writable }
        return wanted
    }

    private func fail(_ error: any Error) { close(error) }

    /// Reports a failure found inside a caller's call without re-entering the caller.
    private func failLater(_ error: any Error) {
        loop.deferToEndOfEvent { [weak self] in self?.close(error) }
    }

    private func touch() { lastActivityNanos = MonotonicClock.nowNanos() }

    private func armIdleTimer() {
        guard limits.idleTimeoutNanos > 0 else { return }
        let idle = limits.idleTimeoutNanos
        let due = lastActivityNanos &+ idle
        let now = MonotonicClock.nowNanos()
        idleTimer = loop.schedule(afterNanos: due > now ? due - now : 0) { [weak self] in
            guard let self, self.state != .closed else { return }
            if MonotonicClock.nowNanos() &- self.lastActivityNanos >= idle {
                self.close(SocketError(.timeout, "idle for \(idle / 1_000_000_000) s"))
            } else {
                self.armIdleTimer()
            }
        }
    }
}
