#if canImport(Glibc)
import Glibc
#endif

/// One mux session over one WebSocket channel, bridging its streams to TCP sockets: the
/// data path of a tunnel (docs/ARCHITECTURE.md, "Bridge").
///
/// Threading: loop-confined to `channel.loop`. Create it there (in the upgrade handler
/// or the connect completion, so it sees the first message); `liveStreamCount` and
/// `streamBufferedBytes` are read there; every callback runs there. `carry`, `goAway`
/// and `close` may be called from any thread (they hop to the loop); `statistics` is
/// atomics.
///
/// Flow control: a stream's socket is read only while the stream has send window (at
/// most that many bytes per read) and the WebSocket is writable; bytes from the peer
/// are credited back (`consumed`) only while the target socket is below its high
/// watermark, so a slow target stalls its own stream and nothing else, holding at most
/// its window plus its socket's high watermark here.
///
/// Lifetime: the channel's callbacks keep the bridge alive until the channel closes;
/// then every stream's socket is closed and `onClose` fires once.
public final class MuxBridge: @unchecked Sendable {
    // Safe: every stored property is used only on `loop`'s thread (checked by
    // `assertInEventLoop()` at each entry point); `statistics` is atomics and `loop`
    // is immutable and thread-safe itself.

    /// The loop the bridge, its channel and its sockets live on.
    public let loop: EventLoop
    /// Counters, readable from any thread.
    public let statistics = MuxBridgeStatistics()

    let channel: WebSocketChannel
    var session: MuxSession
    let streamLimits: ConnectionLimits
    /// Most bytes one read of a stream's socket takes (also capped by the stream's send
    /// window). Each read leaves as its own WebSocket message at once, so a window of
    /// several reads keeps several messages in flight: the peer decrypts one while this
    /// end reads and encrypts the next (docs/ARCHITECTURE.md, "Bridge").
    let streamReadBytesMax: Int
    /// Longest a dialled stream's ACCEPT is held back for its first frame
    /// (`dialledStreamConnected`).
    let acceptHoldNanos: UInt64
    /// `streamReadBytesMax` trimmed so a full read's message fills whole TLS records
    /// (`RecordAlignedRead`); set once the peer's HELLO gave its frame size.
    var fullReadBytes: Int?
    let onOpen: ([UInt8]) -> MuxOpenDecision
    let onStreamEvent: (MuxBridgeEvent) -> Void
    let onClose: (String) -> Void

    /// Streams with a socket. Invariant: a stream leaves only when its connection closed;
    /// the session may have forgotten it earlier (both FINs done, or reset).
    var streams: [MuxStreamID: BridgeStream] = [:]
    /// Sockets carried before the peer's HELLO arrived. Invariant: count ≤
    /// `configuration.maxConcurrentStreams`.
    var waitingCarries: [(fd: Int32, descriptor: [UInt8], remote: String)] = []
    /// The WebSocket's output is above its high watermark: no socket is read.
    var pausedForChannel = false
    var flushScheduled = false
    /// A timer will send the ACCEPTs still held (`dialledStreamConnected`).
    var acceptTimerArmed = false
    /// `close` was called or the session ended: no new streams, sockets are closing.
    var isClosing = false
    /// The channel closed; `onClose` fired.
    var channelClosed = false
    /// Why the bridge ends, reported by `onClose` (else the channel's own close report).
    var closeReason: String?
    /// Called on the loop when the peer sends GOAWAY (code and reason): it will open no
    /// new streams and refuses ours; live streams go on. Set on the loop, right after init.
    public var onPeerGoAway: ((MuxErrorCode, String) -> Void)?

    /// Starts a session on `channel` (sends HELLO). Call on `channel.loop`.
    ///
    /// - `configuration`: this end's mux settings (role: `.server` on the node, `.client`
    ///   on the connector; the window is the per-stream memory bound).
    /// - `streamLimits`: watermarks and timeouts of the streams' TCP sockets.
    /// - `streamReadBytesMax`: most bytes one socket read takes (one WebSocket message).
    /// - `acceptHoldNanos`: longest a dialled stream's ACCEPT waits to share a message
    ///   with the target's first bytes.
    /// - `onOpen`: the peer opened a stream carrying this descriptor: dial or refuse.
    /// - `onStreamEvent`: streams opened, closed (with byte counts) and refused, for audit.
    /// - `onClose`: the bridge is over (channel closed; every socket is closed or closing).
    public init(
        channel: WebSocketChannel, configuration: MuxConfiguration, streamLimits: ConnectionLimits = .init(),
        streamReadBytesMax: Int = MuxBridge.defaultStreamReadBytesMax,
        acceptHoldNanos: UInt64 = MuxBridge.defaultAcceptHoldNanos,
        onOpen: @escaping (_ descriptor: [UInt8]) -> MuxOpenDecision,
        onStreamEvent: @escaping (MuxBridgeEvent) -> Void = { _ in },
        onClose: @escaping (_ reason: String) -> Void
    ) {
        channel.loop.assertInEventLoop()
        self.loop = channel.loop
        self.channel = channel
        self.session = MuxSession(configuration: configuration)
        self.streamLimits = streamLimits
        precondition(streamReadBytesMax >= 1, "streamReadBytesMax must be at least 1")
        self.streamReadBytesMax = streamReadBytesMax
        self.acceptHoldNanos = acceptHoldNanos
        self.onOpen = onOpen
        self.onStreamEvent = onStreamEvent
        self.onClose = onClose
        // These closures hold the bridge until the channel closes (it drops them then).
        channel.onMessage = { [self] message in receive(message) }
        channel.onDrain = { [self] in channelDrained() }
        channel.onClose = { [self] code, reason in channelDidClose(code, reason) }
        scheduleFlush()
    }

    // MARK: - Public surface

    /// Carries an accepted TCP socket (non-blocking, like every socket a `Listener` or
    /// `socketPair()` gives; from any loop's listener; ownership moves here)
    /// as a new stream whose OPEN carries `descriptor`. Safe from any thread. If no
    /// stream can be opened (too many, going away, closed, descriptor too large) the
    /// socket is closed and `onStreamEvent` reports `.refused` with the reason. Before
    /// the peer's HELLO arrives, sockets wait (at most `maxConcurrentStreams` of them).
    public func carry(acceptedFD fd: Int32, descriptor: [UInt8], remoteAddress: String) {
        guard loop.inEventLoop else {
            loop.execute { [self] in carry(acceptedFD: fd, descriptor: descriptor, remoteAddress: remoteAddress) }
            return
        }
        if isClosing || channelClosed {
            return refuseCarry(fd, descriptor, "the tunnel session is closed")
        }
        if session.peer == nil {
            guard waitingCarries.count < session.configuration.maxConcurrentStreams else {
                return refuseCarry(fd, descriptor, "too many connections waiting for the tunnel session to start")
            }
            waitingCarries.append((fd, descriptor, remoteAddress))
            return
        }
        openCarried(fd, descriptor, remoteAddress)
    }

    /// Goes away gracefully: no new streams either way (sockets carried from now on are
    /// refused), live streams go on until they end, then the channel closes. Safe from
    /// any thread.
    public func goAway(reason: String) {
        guard loop.inEventLoop else {
            loop.execute { [self] in goAway(reason: reason) }
            return
        }
        session.goAway(.noError, reason: reason)
        for waiting in waitingCarries { refuseCarry(waiting.fd, waiting.descriptor, "going away: \(reason)") }
        waitingCarries.removeAll()
        scheduleFlush()
    }

    /// Ends everything now: a GOAWAY with `code` (the peer resets its streams), every
    /// socket closed (each stream reported `closed` with `reason`), the channel closed.
    /// Safe from any thread; a second call does nothing.
    public func close(code: MuxErrorCode = .cancel, reason: String) {
        guard loop.inEventLoop else {
            loop.execute { [self] in close(code: code, reason: reason) }
            return
        }
        guard !isClosing, !channelClosed else { return }
        isClosing = true
        closeReason = reason
        session.goAway(code == .noError ? .cancel : code, reason: reason)
        flush()
        endEveryStream("tunnel session closed: \(reason)")
        channel.close(code: .normal, reason: reason)
    }

    /// A connected pair of non-blocking, close-on-exec local stream sockets: hand one end
    /// to a bridge as `.adopt` and `carry` the other into another bridge, and a stream of
    /// one session continues as a stream of the other (a relayed client reaching the
    /// connector's session), with no TCP port anyone else could connect to.
    public static func socketPair() throws(SocketError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw SocketError.posix(.socket, "socketpair") }
        return (fds[0], fds[1])
    }

    /// Streams with an open socket. Loop thread only.
    public var liveStreamCount: Int {
        loop.assertInEventLoop()
        return streams.count
    }

    /// Bytes from the peer waiting in the streams' sockets for their targets (bounded by
    /// each stream's window plus its socket's high watermark). Loop thread only.
    public var streamBufferedBytes: Int {
        loop.assertInEventLoop()
        return streams.values.reduce(0) { $0 + $1.connection.pendingBytes }
    }

    /// The default `streamReadBytesMax`: 256 KiB (`scripts/bench-bridge`, docs/BENCHMARKS.md,
    /// "Data path: reads in flight"): with Warren's 1 MiB window four messages of a stream
    /// are in flight, and per-message costs (a WebSocket header, a TLS write, a syscall,
    /// an event on each side) stay as rare as when a whole event's reads left together.
    public static let defaultStreamReadBytesMax = 256 * 1024
    /// Longest an ACCEPT is held back by default waiting for the target's first bytes
    /// (1 ms): long enough for a target that answers at once, short against any connect.
    public static let defaultAcceptHoldNanos: UInt64 = 1_000_000

    /// The DATA frame size Warren's sessions accept (HELLO's `frameBytesMax`): a full
    /// read is one frame, so it is read straight into the session's output (no copy,
    /// `Connection.readTarget`) and the receiver writes it to its socket in two writes
    /// instead of four (`firstWriteBytes`; docs/BENCHMARKS.md, "Data path, session 5").
    public static let dataFrameBytes = defaultStreamReadBytesMax

    /// The first write of a delivered DATA frame to its socket (the rest follows in a second).
    static let firstWriteBytes = 64 * 1024

    // MARK: - Output

    /// Sends the session's output at the end of the loop's iteration: every frame
    /// produced while handling one batch of events leaves in one WebSocket message.
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        // At the end of the loop's iteration, not of this event: the frames of every
        // socket event in one epoll batch (OPENs, first bytes, FINs of many streams) leave
        // as one message. A full read does not wait for this (`streamRead` flushes it).
        loop.deferToEndOfIteration { [self] in
            flushScheduled = false
            flush()
        }
    }

    /// Writes the session's output as one message, pauses every socket read when the
    /// WebSocket backs up, and closes the channel once the session is over.
    func flush() {
        // Held ACCEPTs ride along with any message that leaves anyway.
        if session.hasOutput && session.hasHeldAccepts { session.sendHeldAccepts() }
        if session.hasOutput && channel.isOpen {
            var output = session.takeOutput()
            let headroom = session.configuration.outputHeadroomBytes
            if headroom >= WebSocketFrameEncoder.headerBytesMax {
                // The session left room for the frame header: one write, no copy.
                output.withUnsafeMutableBytes { all in _ = channel.send(binaryInPlace: all, headroom: headroom) }
            } else {
                output.withUnsafeBytes { all in
                    _ = channel.send(binary: UnsafeRawBufferPointer(rebasing: all[headroom...]))
                }
            }
            statistics.messagesSent.increment()
            session.recycleOutput(output)
        }
        if !pausedForChannel && !channel.isWritable { pauseForChannel() }
        if channel.isOpen && !isClosing && (session.isClosed || (session.isDrained && streams.isEmpty)) {
            isClosing = true
            let reason: String
            if case .closed(let code, let why) = session.state { reason = "mux session ended (\(code)): \(why)" } else {
                reason = "mux session drained"
            }
            closeReason = closeReason ?? reason
            endEveryStream(reason)
            channel.close(code: .normal, reason: reason)
        }
    }

    private func pauseForChannel() {
        pausedForChannel = true
        statistics.channelStalls.increment()
        for stream in streams.values { stream.connection.pauseReading() }
    }

    private func channelDrained() {
        pausedForChannel = false
        for stream in streams.values { updateReading(stream) }
    }

    // MARK: - Closing

    /// Closes every stream's socket (each reports `closed` with `reason` at the end of
    /// the event) and every waiting carried socket.
    func endEveryStream(_ reason: String) {
        for stream in streams.values {
            if stream.closeReason == nil { stream.closeReason = reason }
            stream.connection.close()
        }
        for waiting in waitingCarries { refuseCarry(waiting.fd, waiting.descriptor, reason) }
        waitingCarries.removeAll()
    }

    private func channelDidClose(_ code: WebSocketCloseCode, _ reason: String) {
        guard !channelClosed else { return }
        channelClosed = true
        isClosing = true
        let report = closeReason ?? "WebSocket closed (\(code.rawValue)): \(reason)"
        endEveryStream("tunnel session lost: \(report)")
        onClose(report)
    }

    func refuseCarry(_ fd: Int32, _ descriptor: [UInt8], _ reason: String) {
        Glibc.close(fd)
        statistics.streamsRefused.increment()
        onStreamEvent(.refused(descriptor: descriptor, reason: reason))
    }
}
