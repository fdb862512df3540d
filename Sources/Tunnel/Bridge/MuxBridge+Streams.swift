#if canImport(Glibc)
import Glibc
#endif

/// The two directions of every stream: the peer's frames to sockets (`receive`), and
/// sockets to frames (the `BridgeStream` callbacks). Loop thread only.
extension MuxBridge {
    // MARK: - Peer → sockets

    /// One WebSocket message: a run of whole mux frames.
    func receive(_ message: [UInt8]) {
        var events: [MuxEvent] = []
        session.receive(message[...], into: &events)
        for event in events { handle(event) }
        scheduleFlush()
    }

    private func handle(_ event: MuxEvent) {
        switch event {
        case .ready:
            let waiting = waitingCarries
            waitingCarries.removeAll()
            for carried in waiting { openCarried(carried.fd, carried.descriptor, carried.remote) }
        case .opened(let id, let descriptor): peerOpened(id, Array(descriptor))
        case .data(let id, let bytes): deliver(id, bytes)
        case .finished(let id): streams[id]?.connection.shutdownWrite()
        case .reset(let id, let code, let reason):
            guard let stream = streams[id] else { return }
            if stream.closeReason == nil { stream.closeReason = "reset by the peer (\(code)): \(reason)" }
            stream.connection.close()
        case .windowOpened(let id):
            guard let stream = streams[id] else { return }
            updateReadLimit(stream)
        case .goAway(_, let code, let reason):
            onPeerGoAway?(code, reason)
        case .accepted, .ping, .pong, .sessionError:
            // A session that ended reset its streams in the events before; `flush`
            // closes the channel once the output (the final GOAWAY) is written.
            break
        }
    }

    /// The peer's bytes for a stream go to its socket; the credit goes back at once if
    /// the socket is below its high watermark, else when it drains.
    private func deliver(_ id: MuxStreamID, _ bytes: ArraySlice<UInt8>) {
        guard let stream = streams[id] else { return }
        let count = bytes.count
        bytes.withUnsafeBytes { all in
            // A large frame leaves in two writes: its first `firstWriteBytes` alone, so the
            // socket's reader wakes and starts while the rest is written, then the rest.
            // One 256 KiB write made one stream 6-9% slower; four 64 KiB writes cost more
            // CPU at 8 streams (docs/BENCHMARKS.md, "Data path, session 5").
            let head = min(all.count, Self.firstWriteBytes)
            stream.connection.write(UnsafeRawBufferPointer(rebasing: all[..<head]))
            if head < all.count { stream.connection.write(UnsafeRawBufferPointer(rebasing: all[head...])) }
        }
        stream.bytesIn += UInt64(count)
        statistics.bytesIn.add(count)
        statistics.streamPendingBytesMax.raise(to: stream.connection.pendingBytes)
        if stream.heldCredit > 0 || !stream.connection.isWritable {
            stream.heldCredit += count
        } else {
            session.consumed(id, count)
        }
    }

    /// The peer opened a stream: ask the owner, then dial or refuse.
    private func peerOpened(_ id: MuxStreamID, _ descriptor: [UInt8]) {
        if isClosing { return session.reset(id, code: .refused, reason: "the tunnel session is closing") }
        switch onOpen(descriptor) {
        case .refuse(let code, let reason):
            session.reset(id, code: code, reason: reason)
            statistics.streamsRefused.increment()
            onStreamEvent(.refused(descriptor: descriptor, reason: reason))
        case .dial(let address):
            let connection: Connection
            do {
                connection = try Connection(loop: loop, connectTo: address, tls: nil, serverName: nil,
                                            limits: streamLimits)
            } catch {
                return dialFailed(id, descriptor, "cannot connect to \(address): \(error)")
            }
            start(id, connection, descriptor, remote: address.description)
        case .adopt(let fd, let remote):
            let connection: Connection
            do {
                connection = try Connection(loop: loop, acceptedFD: fd, tls: nil, limits: streamLimits)
            } catch {
                Glibc.close(fd)
                return dialFailed(id, descriptor, "cannot carry the stream: \(error)")
            }
            // Active at the end of this event: accepted then, like a dial that connected.
            start(id, connection, descriptor, remote: remote)
        }
    }

    private func start(_ id: MuxStreamID, _ connection: Connection, _ descriptor: [UInt8], remote: String) {
        let stream = BridgeStream(
            id: id, connection: connection, descriptor: descriptor, remote: remote, isCarried: false, bridge: self)
        connection.delegate = stream
        connection.readTarget = stream
        streams[id] = stream
        do { try connection.start() } catch { connection.close(error) }
    }

    private func dialFailed(_ id: MuxStreamID, _ descriptor: [UInt8], _ reason: String) {
        session.reset(id, code: .connectFailed, reason: reason)
        statistics.streamsRefused.increment()
        onStreamEvent(.refused(descriptor: descriptor, reason: reason))
    }

    // MARK: - Sockets → peer

    /// A carried socket becomes a stream (its OPEN is in the output), or is refused.
    func openCarried(_ fd: Int32, _ descriptor: [UInt8], _ remote: String) {
        let id: MuxStreamID
        do {
            id = try session.openStream(descriptor: descriptor)
        } catch {
            return refuseCarry(fd, descriptor, "cannot open a stream: \(error)")
        }
        let connection: Connection
        do {
            connection = try Connection(loop: loop, acceptedFD: fd, tls: nil, limits: streamLimits)
        } catch {
            session.reset(id, code: .internalError, reason: "cannot set up the socket")
            return refuseCarry(fd, descriptor, "cannot set up the socket: \(error)")
        }
        let stream = BridgeStream(
            id: id, connection: connection, descriptor: descriptor, remote: remote, isCarried: true, bridge: self)
        connection.delegate = stream
        connection.readTarget = stream
        streams[id] = stream
        statistics.streamsOpened.increment()
        onStreamEvent(.opened(stream: id.rawValue, descriptor: descriptor, remote: remote))
        updateReadLimit(stream)
        do { try connection.start() } catch { connection.close(error) }
        // A client usually writes at once: read what is already here (after the
        // connection's own activation, before the flush), so the OPEN and the first DATA
        // leave in one message instead of two, and the peer handles them in one event.
        loop.deferToEndOfEvent { [weak connection] in connection?.readNow() }
        scheduleFlush()
    }

    /// A dialled target answered: accept the stream and start reading. The ACCEPT frame
    /// is held until the stream's first frame (usually the target's first bytes, which
    /// then share its message), the bridge's next message, or `acceptHoldNanos`,
    /// whichever comes first: one message per new stream fewer when the target answers
    /// at once.
    func dialledStreamConnected(_ stream: BridgeStream) {
        guard session.isLive(stream.id) else { return stream.connection.close() }
        session.accept(stream.id, holdFrame: true)
        stream.isActive = true
        statistics.streamsOpened.increment()
        onStreamEvent(.opened(stream: stream.id.rawValue, descriptor: stream.descriptor, remote: stream.remote))
        updateReadLimit(stream)
        if !acceptTimerArmed {
            acceptTimerArmed = true
            loop.schedule(afterNanos: acceptHoldNanos) { [weak self] in
                guard let self else { return }
                acceptTimerArmed = false
                guard session.hasHeldAccepts else { return }
                session.sendHeldAccepts()
                scheduleFlush()
            }
        }
        scheduleFlush()
    }

    /// Socket bytes become DATA. The read was capped at the send window, so the session
    /// takes all of it.
    func streamRead(_ stream: BridgeStream, _ bytes: UnsafeRawBufferPointer) {
        let taken = session.send(stream.id, bytes)
        if taken < bytes.count {
            // Only a stream the session already forgot (reset, session over) takes less.
            precondition(!session.isLive(stream.id) || session.isClosed,
                         "bridge read \(bytes.count) bytes on \(stream.id) with \(taken) bytes of window")
            stream.connection.pauseReading()
            return
        }
        sentRead(stream, taken)
    }

    /// Counts `taken` socket bytes the session queued as DATA, and sends them.
    private func sentRead(_ stream: BridgeStream, _ taken: Int) {
        stream.bytesOut += UInt64(taken)
        statistics.bytesOut.add(taken)
        updateReadLimit(stream)
        // A full read leaves now, as its own message, rather than at the end of the event
        // behind the next reads: the peer starts on it while this end reads on.
        if session.outputBytes >= readBytesCap() { flush() } else { scheduleFlush() }
    }

    /// The zero-copy read: the socket is read straight into a DATA frame reserved in the
    /// session's output, when the peer's frame size takes a whole read (Warren's peers
    /// announce `dataFrameBytes`); else false, and the read goes through `streamRead`.
    func streamReadInPlace(_ stream: BridgeStream, maxBytes: Int) -> Bool {
        guard let peer = session.peer, Int(peer.frameBytesMax) >= maxBytes else { return false }
        let connection = stream.connection
        var didRead = false
        let taken = session.sendInPlace(stream.id, maxBytes: maxBytes) { payload in
            didRead = true
            return connection.read(into: payload)
        }
        if taken == 0 {
            // Read nothing: end of stream or an error, which the connection handles next.
            // Not read at all (the session takes nothing more on this stream): the read
            // goes through `streamRead`, as before, so the socket's end or error is seen.
            return didRead
        }
        sentRead(stream, taken)
        return true
    }

    func streamReadEOF(_ stream: BridgeStream) {
        stream.finSent = true
        session.finish(stream.id)
        scheduleFlush()
    }

    /// The socket drained to its low watermark: the bytes it held are credited back.
    func streamDrained(_ stream: BridgeStream) {
        guard stream.heldCredit > 0 else { return }
        let held = stream.heldCredit
        stream.heldCredit = 0
        session.consumed(stream.id, held)
        scheduleFlush()
    }

    /// The socket closed: the stream ends (reset if the session still has it) and is
    /// reported; a dialled stream that never connected is a refusal.
    func streamClosed(_ stream: BridgeStream, _ error: (any Error)?) {
        streams.removeValue(forKey: stream.id)
        let live = session.isLive(stream.id)
        if !stream.isActive {
            let reason = stream.closeReason ?? "cannot connect to \(stream.remote): \(error.map { "\($0)" } ?? "closed")"
            if live { session.reset(stream.id, code: .connectFailed, reason: reason) }
            statistics.streamsRefused.increment()
            onStreamEvent(.refused(descriptor: stream.descriptor, reason: reason))
        } else {
            let reason = stream.closeReason ?? error.map { "socket error: \($0)" } ?? (live ? "socket closed" : "finished")
            if live { session.reset(stream.id, code: .cancel, reason: reason) }
            statistics.streamsClosed.increment()
            onStreamEvent(.closed(stream: stream.id.rawValue, bytesIn: stream.bytesIn, bytesOut: stream.bytesOut,
                                  reason: reason))
        }
        scheduleFlush()
    }

    // MARK: - Reading

    /// Caps the socket's next read at the stream's send window; at 0 reading waits for
    /// `.windowOpened` (the session is told the stream is blocked, so it reports it).
    func updateReadLimit(_ stream: BridgeStream) {
        let window = session.sendWindow(stream.id)
        stream.connection.readBytesMax = max(1, min(window, readBytesCap()))
        if window == 0 && !stream.pausedForWindow { statistics.windowStalls.increment() }
        stream.pausedForWindow = window == 0
        if window == 0 && !stream.finSent && session.isLive(stream.id) {
            // Offering one byte with no window marks the stream blocked (nothing is sent).
            withUnsafeBytes(of: UInt8(0)) { _ = session.send(stream.id, $0) }
        }
        updateReading(stream)
    }

    /// The most one socket read takes: `streamReadBytesMax`, trimmed (once the peer's
    /// frame size is known) so that the read's message ends on a TLS record boundary
    /// instead of in a record of a few dozen bytes (`RecordAlignedRead`).
    func readBytesCap() -> Int {
        if let fullReadBytes { return fullReadBytes }
        guard let peer = session.peer else { return streamReadBytesMax }
        let cap = RecordAlignedRead.readBytes(
            limit: streamReadBytesMax, frameBytesMax: Int(peer.frameBytesMax), masked: channel.side == .client)
        fullReadBytes = cap
        return cap
    }

    /// Reads a socket only while its stream has window and the WebSocket is writable.
    func updateReading(_ stream: BridgeStream) {
        if stream.isActive && !stream.pausedForWindow && !pausedForChannel {
            stream.connection.resumeReading()
        } else {
            stream.connection.pauseReading()
        }
    }
}
