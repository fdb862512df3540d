/// An open WebSocket (RFC 6455) over one `Connection`, plain or TLS: binary messages in
/// and out, pings, the closing handshake. Made by `HTTPResponder.upgradeToWebSocket`
/// (server) or `WebSocketClient.connect` (client).
///
/// Threading: loop-confined. Every property and method must be used on `loop`'s thread,
/// and every callback runs there, from event handling (never re-entrantly from inside a
/// call the user made). Set the callbacks in the upgrade handler or connect completion:
/// messages are delivered from the end of that event on. From another thread, hop with
/// `loop.execute`.
///
/// Messages: `onMessage` gets each binary message whole (fragments reassembled, at most
/// `configuration.messageBytesMax`). Text messages are refused with close 1003 unless
/// `configuration.textMessages` is `.deliverAsBytes`, which hands their (UTF-8 checked)
/// bytes to `onMessage` too. Pings are answered with a Pong automatically.
///
/// Backpressure: `send` never refuses bytes while open, but once the connection's
/// pending output reaches its high watermark `isWritable` turns false; a producer should
/// then stop until `onDrain` (low watermark). Pending output is then bounded by the high
/// watermark plus one message. For the other direction, `pauseReading()` stops reading
/// the socket (the peer's sends then back up into its own `isWritable`).
///
/// Closing: `close(code:reason:)` sends a Close and waits for the peer's (and the end of
/// the TCP stream) at most `configuration.closeTimeoutNanos`. A peer's Close is answered
/// with the same code. A protocol violation by the peer sends a Close with its code
/// (1002, 1003, 1007, 1009). `onClose(code, reason)` fires once, when the socket has
/// closed, with: the code we failed the connection with; else, after our `close`, the
/// code and reason we sent; else the peer's Close (1005 when it had no code); else 1006
/// with the connection's error.
public final class WebSocketChannel {
    /// Which end this is: a client masks what it sends, a server does not.
    public typealias Side = WebSocketFrameDecoder.Side

    enum State: Equatable {
        /// Messages flow both ways.
        case open
        /// We sent a Close; waiting for the peer's (incoming messages still delivered).
        case closeSent
        /// Done with frames: write side shut, waiting for the TCP stream to end.
        case draining
        /// The connection closed; `onClose` has fired.
        case closed
    }

    /// The loop this channel lives on.
    public let loop: EventLoop
    public let side: Side
    public let configuration: WebSocketConfiguration
    /// The subprotocol agreed in the handshake (`warren-mux.v1`), if any.
    public let subprotocol: String?
    /// The peer's address, `HOST:PORT`.
    public let remoteAddress: String
    /// The peer's verified TLS certificate: the client's at a server that asked for one,
    /// the server's at a client. Nil on plain TCP.
    public let peerCertificate: Certificate?

    /// Called with each data message (see the type's comment for text).
    public var onMessage: (([UInt8]) -> Void)?
    /// Called once pending output fell to the low watermark after `isWritable` was false.
    public var onDrain: (() -> Void)?
    /// Called once, after the connection closed: the close code and reason (see above).
    public var onClose: ((WebSocketCloseCode, String) -> Void)?

    let connection: Connection
    private var decoder: WebSocketFrameDecoder
    private(set) var state = State.open
    private var readPaused = false
    /// Why we failed the connection (a protocol error by the peer), if we did.
    private var localFailure: (code: WebSocketCloseCode, reason: String)?
    private var receivedClose: (code: WebSocketCloseCode, reason: String)?
    private var sentClose: (code: WebSocketCloseCode, reason: String)?
    /// True when `close` started the closing handshake (our code is then the one reported).
    private var closedLocally = false
    private var closeTimer: TimerHandle?
    /// Pings awaiting a Pong, oldest first. Invariant: count <= pingsOutstandingMax.
    private var pendingPings: [(payload: [UInt8], sentNanos: UInt64, onPong: ((UInt64) -> Void)?)] = []
    private var maskPool: [UInt8] = []
    private var maskIndex = 0
    /// Tells the owner of the connection (the HTTP server's accounting) that it closed.
    private var onConnectionClosed: (() -> Void)?

    /// Payloads up to this size are copied behind their header and written once (one
    /// TLS record instead of two); larger ones are written straight from the caller's buffer.
    static let coalesceBytesMax = 16 * 1024
    /// A client masks a copy of its payload in pieces of this size.
    static let maskPieceBytes = 64 * 1024

    init(
        connection: Connection, side: Side, configuration: WebSocketConfiguration, subprotocol: String?,
        remoteAddress: String, onConnectionClosed: (() -> Void)? = nil
    ) {
        connection.loop.assertInEventLoop()
        self.loop = connection.loop
        self.connection = connection
        self.side = side
        self.configuration = configuration
        self.subprotocol = subprotocol
        self.remoteAddress = remoteAddress
        self.peerCertificate = connection.tls?.peerCertificate
        self.onConnectionClosed = onConnectionClosed
        decoder = WebSocketFrameDecoder(
            side: side, frameBytesMax: configuration.frameBytesMax, messageBytesMax: configuration.messageBytesMax)
    }

    /// Takes the connection over: becomes its delegate, queues `buffered` (bytes that
    /// arrived with the handshake) and resumes reading; delivery starts at the end of
    /// the current event, after the caller had the chance to set the callbacks.
    func start(buffered: [UInt8]) {
        loop.assertInEventLoop()
        // Both hand-offs run while the connection is open (the HTTP side checks its
        // phase; the client is called from a read), so the close is still to come.
        precondition(!connection.isClosed, "WebSocketChannel started on a closed connection")
        connection.delegate = self
        decoder.append(buffered)
        if !readPaused { connection.resumeReading() }
        loop.deferToEndOfEvent { [weak self] in
            guard let self else { return }
            self.deliver()
            if self.connection.readEOF { self.connectionDidReadEOF(self.connection) }
        }
    }

    // MARK: public surface

    /// True while open and the connection's pending output is below its high watermark.
    public var isWritable: Bool { state == .open && connection.isWritable }

    /// True until `close` is called, a Close arrives or the connection fails.
    public var isOpen: Bool { state == .open }

    /// Output accepted but not yet taken by the kernel (for watching memory).
    public var pendingOutputBytes: Int { connection.pendingBytes }

    /// Input read but not yet decoded (for watching memory; at most one read while paused).
    var bufferedInputBytes: Int { decoder.bufferedBytes }

    /// Sends one binary message (fragmented at `outboundFrameBytesMax`). The bytes are
    /// borrowed only for the call. Returns false, sending nothing, once not open.
    @discardableResult
    public func send(binary bytes: UnsafeRawBufferPointer) -> Bool {
        loop.assertInEventLoop()
        guard state == .open else { return false }
        var offset = 0
        var opcode = WebSocketOpcode.binary
        repeat {
            let n = min(configuration.outboundFrameBytesMax, bytes.count - offset)
            let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
            offset += n
            writeFrame(opcode, fin: offset == bytes.count, payload: piece)
            opcode = .continuation
        } while offset < bytes.count
        return true
    }

    /// Sends one binary message whose payload is `buffer[headroom...]`, writing the frame
    /// header into the `headroom` bytes before it (and masking the payload in place on a
    /// client), so header and payload reach TLS as one write: one record sequence, one
    /// syscall, no copy. `headroom` must be at least `WebSocketFrameEncoder.headerBytesMax`;
    /// a payload above `outboundFrameBytesMax` goes through `send(binary:)` (fragmented).
    /// The buffer's bytes are clobbered (header, mask). Returns false, sending nothing,
    /// once not open.
    @discardableResult
    public func send(binaryInPlace buffer: UnsafeMutableRawBufferPointer, headroom: Int) -> Bool {
        loop.assertInEventLoop()
        precondition(headroom >= WebSocketFrameEncoder.headerBytesMax && headroom <= buffer.count, "headroom too small")
        guard state == .open else { return false }
        let payload = UnsafeMutableRawBufferPointer(rebasing: buffer[headroom...])
        guard payload.count <= configuration.outboundFrameBytesMax else {
            return send(binary: UnsafeRawBufferPointer(payload))
        }
        let key = nextMaskKey()
        var header: [UInt8] = []
        header.reserveCapacity(WebSocketFrameEncoder.headerBytesMax)
        WebSocketFrameEncoder.appendHeader(opcode: .binary, fin: true, payloadCount: payload.count, maskKey: key, to: &header)
        if let key { WebSocketMask.apply(payload, key: key, offset: 0) }
        let start = headroom - header.count
        // Safe: `start ..< headroom` lies inside `buffer` (headroom ≥ header.count, checked above).
        header.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[start..<headroom]).copyMemory(from: $0) }
        connection.write(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        return true
    }

    /// Sends one binary message; see `send(binary:)` for a borrowed buffer.
    @discardableResult
    public func send(binary bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { send(binary: $0) } }

    /// Sends a Ping (at most 125 payload bytes). `onPong` gets the round-trip time in
    /// nanoseconds when a Pong with the same payload arrives (it never fires if the
    /// connection closes first). Returns false, sending nothing, when not open or when
    /// `pingsOutstandingMax` pings already await their Pong.
    @discardableResult
    public func ping(payload: [UInt8] = [], onPong: ((UInt64) -> Void)? = nil) -> Bool {
        loop.assertInEventLoop()
        precondition(payload.count <= 125, "a ping payload is at most 125 bytes (RFC 6455 §5.5)")
        guard state == .open, pendingPings.count < configuration.pingsOutstandingMax else { return false }
        pendingPings.append((payload, MonotonicClock.nowNanos(), onPong))
        writeControl(.ping, payload)
        return true
    }

    /// Starts the closing handshake (§7.1.2): sends a Close with `code` (one valid on the
    /// wire) and `reason` (cut to fit 123 bytes), stops sending, resumes reading to hear
    /// the peer's Close, and closes the socket after it or after `closeTimeoutNanos`.
    /// Does nothing once not open.
    public func close(code: WebSocketCloseCode = .normal, reason: String = "") {
        loop.assertInEventLoop()
        precondition(code.isValidOnWire, "close code \(code) may not be sent (RFC 6455 §7.4)")
        guard state == .open else { return }
        sendClose(code, reason)
        closedLocally = true
        state = .closeSent
        armCloseTimer()
        if readPaused { resumeReading() }
    }

    /// Stops reading from the socket (and delivering messages) until `resumeReading()`.
    public func pauseReading() {
        loop.assertInEventLoop()
        readPaused = true
        connection.pauseReading()
    }

    /// Resumes reading; messages already buffered are delivered at the end of this event.
    public func resumeReading() {
        loop.assertInEventLoop()
        guard readPaused else { return }
        readPaused = false
        guard state == .open || state == .closeSent else { return }
        connection.resumeReading()
        loop.deferToEndOfEvent { [weak self] in self?.deliver() }
    }

    // MARK: receiving

    /// Hands decoded messages and control frames on until input runs out, reading is
    /// paused or frames are over.
    private func deliver() {
        while !readPaused && (state == .open || state == .closeSent) {
            switch decoder.next() {
            case .needMoreData: return
            case .message(let message): receive(message)
            case .ping(let payload): if state == .open { writeControl(.pong, payload) }
            case .pong(let payload): receivePong(payload)
            case .close(let code, let reason): receiveClose(code, reason)
            case .failed(let error): fail(error.closeCode, error.message)
            }
        }
    }

    private func receive(_ message: WebSocketMessage) {
        switch message {
        case .binary(let bytes): onMessage?(bytes)
        case .text(let bytes):
            guard configuration.textMessages == .deliverAsBytes else {
                return fail(.unsupportedData, "text messages are not accepted; send binary")
            }
            onMessage?(bytes)
        }
    }

    private func receivePong(_ payload: [UInt8]) {
        // An unsolicited Pong (a heartbeat) is allowed and ignored (§5.5.3).
        guard let index = pendingPings.firstIndex(where: { $0.payload == payload }) else { return }
        let ping = pendingPings.remove(at: index)
        ping.onPong?(MonotonicClock.nowNanos() &- ping.sentNanos)
    }

    /// The peer's Close: answer it (echoing its code) unless we sent ours, then shut the
    /// write side and wait for the stream to end (§5.5.1, §7.1.5).
    private func receiveClose(_ code: WebSocketCloseCode?, _ reason: String) {
        receivedClose = (code ?? .noStatusReceived, reason)
        if state == .open {
            if let code { sendClose(code, "") } else { writeControl(.close, []) }
        }
        enterDraining()
    }

    /// Fails the connection (§7.1.7): a Close with `code` unless one was sent, then drain.
    private func fail(_ code: WebSocketCloseCode, _ reason: String) {
        localFailure = (code, reason)
        if state == .open { sendClose(code, reason) }
        enterDraining()
    }

    private func enterDraining() {
        guard state != .draining, state != .closed else { return }
        state = .draining
        pendingPings.removeAll()
        connection.shutdownWrite()
        connection.resumeReading()  // to see the peer's end of stream
        if closeTimer == nil { armCloseTimer() }
    }

    private func armCloseTimer() {
        closeTimer = loop.schedule(afterNanos: configuration.closeTimeoutNanos) { [weak self] in
            guard let self, self.state != .closed else { return }
            self.connection.close()
        }
    }

    // MARK: sending

    private func sendClose(_ code: WebSocketCloseCode, _ reason: String) {
        sentClose = (code, reason)
        writeControl(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
    }

    private func writeControl(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        let frame = WebSocketFrameEncoder.frame(opcode: opcode, payload: payload, maskKey: nextMaskKey())
        frame.withUnsafeBytes { connection.write($0) }
    }

    /// One frame: unmasked from a server (coalesced with its header when small), masked
    /// from a client over a copy made in bounded pieces.
    private func writeFrame(_ opcode: WebSocketOpcode, fin: Bool, payload: UnsafeRawBufferPointer) {
        let key = nextMaskKey()
        var out: [UInt8] = []
        out.reserveCapacity(WebSocketFrameEncoder.headerBytesMax + min(payload.count, Self.maskPieceBytes))
        WebSocketFrameEncoder.appendHeader(opcode: opcode, fin: fin, payloadCount: payload.count, maskKey: key, to: &out)
        if key == nil && payload.count > Self.coalesceBytesMax {
            out.withUnsafeBytes { connection.write($0) }
            connection.write(payload)
            return
        }
        var offset = 0
        repeat {
            let n = min(Self.maskPieceBytes, payload.count - offset)
            let start = out.count
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[offset..<offset + n]))
            if let key {
                out.withUnsafeMutableBytes { all in
                    WebSocketMask.apply(UnsafeMutableRawBufferPointer(rebasing: all[start...]), key: key, offset: offset)
                }
            }
            out.withUnsafeBytes { connection.write($0) }
            out.removeAll(keepingCapacity: true)
            offset += n
        } while offset < payload.count
    }

    /// A fresh mask key for a client frame (nil for a server), from a pool of
    /// `SecureRandom` bytes refilled 64 keys at a time.
    private func nextMaskKey() -> UInt32? {
        guard side == .client else { return nil }
        if maskIndex + 4 > maskPool.count {
            maskPool = SecureRandom.bytes(256)
            maskIndex = 0
        }
        let b = maskPool[maskIndex..<maskIndex + 4].map(UInt32.init)
        maskIndex += 4
        return b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]
    }

    // MARK: closing

    /// The code and reason reported by `onClose` (see the type's comment).
    private func closeReport(_ error: (any Error)?) -> (WebSocketCloseCode, String) {
        if let localFailure { return localFailure }
        if closedLocally, let sentClose { return sentClose }
        if let receivedClose { return receivedClose }
        return (.abnormalClosure, error.map { "\($0)" } ?? "connection closed without a Close frame")
    }
}

extension WebSocketChannel: ConnectionDelegate {
    func connectionDidBecomeActive(_ connection: Connection) {}

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard state == .open || state == .closeSent else { return }  // draining: discard
        decoder.append(bytes)
        deliver()
    }

    func connectionDidReadEOF(_ connection: Connection) {
        // The peer's stream ended; after a Close that is the handshake's end, without one
        // it is an abnormal closure (1006). Either way our side is done too.
        enterDraining()
    }

    func connectionDidDrain(_ connection: Connection) {
        if state == .open { onDrain?() }
    }

    func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
        guard state != .closed else { return }
        state = .closed
        closeTimer?.cancel()
        closeTimer = nil
        pendingPings.removeAll()
        let (code, reason) = closeReport(error)
        let owner = onConnectionClosed
        let onClose = self.onClose
        onConnectionClosed = nil
        onMessage = nil
        onDrain = nil
        self.onClose = nil
        owner?()
        onClose?(code, reason)
    }
}
