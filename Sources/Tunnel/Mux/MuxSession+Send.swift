/// The application's side of a session: opening, sending, granting credit, closing.
///
/// Calls naming a stream that is gone (finished both ways, reset by either end, or
/// ended with the session) do nothing, and `send` takes nothing: a relay may still hold
/// a stream's id for a moment after the event that ended it. Breaking a stream's own
/// order (sending after `finish`, sending on an inbound stream before `accept`,
/// consuming more than was delivered) is a programmer mistake: a precondition.
extension MuxSession {
    /// Opens a stream carrying `descriptor` (opaque to the mux: the node puts the mapping
    /// and target there) and returns its id. DATA may be sent at once, before the peer
    /// accepts, within the peer's initial window.
    public mutating func openStream(descriptor: [UInt8]) throws(MuxOpenError) -> MuxStreamID {
        if case .closed = state { throw .sessionClosed }
        guard let peer else { throw .notReady }
        if goAwaySent != nil || goAwayReceived != nil { throw .goingAway }
        if localCount >= Int(peer.maxConcurrentStreams) { throw .tooManyStreams(limit: Int(peer.maxConcurrentStreams)) }
        let limit = Int(min(peer.descriptorBytesMax, peer.frameBytesMax))
        if descriptor.count > limit { throw .descriptorTooLarge(bytes: descriptor.count, limit: limit) }
        if nextLocalID > UInt64(UInt32.max) { throw .streamIDsExhausted }
        let id = MuxStreamID(UInt32(nextLocalID))
        nextLocalID += 2
        streams[id] = MuxStream(
            isLocal: true, sendWindow: Int(peer.initialWindowBytes), receiveWindow: configuration.initialWindowBytes)
        localCount += 1
        write(.open(id, descriptor: descriptor[...]))
        return id
    }

    /// Accepts a stream the peer opened (its target is connected); only then may this end
    /// send on it. Precondition: `id` was reported by `.opened` and not accepted yet.
    ///
    /// With `holdFrame` the ACCEPT frame is not written now but in front of the stream's
    /// next frame (DATA, WINDOW or FIN; an RST needs none) or by `sendHeldAccepts`, so
    /// that an ACCEPT and the target's first bytes leave in one message. The caller bounds
    /// the delay: it calls `sendHeldAccepts` whenever it writes other output and after a
    /// short timer (docs/PROTOCOL.md, "Mux" → Rules → Open).
    public mutating func accept(_ id: MuxStreamID, holdFrame: Bool = false) {
        guard let index = streams.index(forKey: id) else { return }
        precondition(!streams.values[index].isLocal, "accept(\(id)): this end opened it")
        precondition(!streams.values[index].isAccepted, "accept(\(id)) twice")
        streams.values[index].isAccepted = true
        if holdFrame {
            streams.values[index].acceptHeld = true
            heldAccepts.append(id)
        } else {
            write(.accept(id))
        }
    }

    /// Whether an accepted stream's ACCEPT frame is still held (`accept(_:holdFrame:)`).
    public var hasHeldAccepts: Bool { !heldAccepts.isEmpty }

    /// Writes the ACCEPT of every stream whose frame is held, in accept order.
    public mutating func sendHeldAccepts() {
        guard !heldAccepts.isEmpty else { return }
        let held = heldAccepts
        heldAccepts.removeAll(keepingCapacity: true)
        for id in held {
            if let index = streams.index(forKey: id) { releaseAccept(index) }
        }
    }

    /// Writes a held ACCEPT of the stream at `index` before its next frame.
    private mutating func releaseAccept(_ index: Dictionary<MuxStreamID, MuxStream>.Index) {
        guard streams.values[index].acceptHeld else { return }
        streams.values[index].acceptHeld = false
        write(.accept(streams.keys[index]))
    }

    /// Queues as many of `bytes` as the stream's send window allows, in DATA frames of at
    /// most the peer's frame size, and returns how many it took. The caller keeps the
    /// rest and offers it again after `.windowOpened(id)`.
    public mutating func send(_ id: MuxStreamID, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let index = sendableStream(id, offering: bytes.count) else { return 0 }
        let taken = min(bytes.count, streams.values[index].sendWindow)
        releaseAccept(index)
        let frameMax = Int(peer!.frameBytesMax)
        var offset = 0
        while offset < taken {
            let length = min(frameMax, taken - offset)
            MuxFrame.appendHeader(.data, id, length: length, to: &output)
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]))
            offset += length
        }
        streams.values[index].sendWindow -= taken
        return taken
    }

    /// `send` for bytes in an array or a slice of one.
    public mutating func send(_ id: MuxStreamID, _ bytes: ArraySlice<UInt8>) -> Int {
        bytes.withUnsafeBytes { send(id, $0) }
    }

    /// `send` for bytes in an array.
    public mutating func send(_ id: MuxStreamID, _ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { send(id, $0) }
    }

    /// The zero-copy send: reserves one DATA frame of up to `maxBytes` (capped by the
    /// window and the peer's frame size) in the output, lets `fill` write the payload
    /// straight into it (a socket `read`, for instance) and return how many bytes it
    /// wrote, then writes the header in front. Returns that count (0: nothing was sent).
    public mutating func sendInPlace<E: Error>(
        _ id: MuxStreamID, maxBytes: Int, _ fill: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(E) -> Int {
        guard let index = sendableStream(id, offering: maxBytes) else { return 0 }
        let room = min(maxBytes, streams.values[index].sendWindow, Int(peer!.frameBytesMax))
        releaseAccept(index)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: MuxProtocol.headerBytes))
        // The payload goes into spare capacity as it is (no zero-fill: the read is the
        // only pass over these bytes before TLS).
        var failure: E?
        let written = output.appendUninitialized(count: room) { payload in
            do throws(E) { return try fill(payload) } catch {
                failure = error
                return 0
            }
        }
        if let failure {
            output.removeLast(MuxProtocol.headerBytes + written)
            throw failure
        }
        precondition(written >= 0 && written <= room, "sendInPlace: fill wrote \(written) of \(room) bytes")
        if written == 0 {
            output.removeLast(MuxProtocol.headerBytes)
            return 0
        }
        output.withUnsafeMutableBytes { all in
            // Safe: the header slot [start, start + 12) lies inside the output.
            MuxFrame.writeHeader(.data, id, length: written, to: all.baseAddress! + start)
        }
        streams.values[index].sendWindow -= written
        return written
    }

    /// The stream's index if DATA may be sent on it now; marks it blocked when its window
    /// cannot take all of `offered`.
    private mutating func sendableStream(_ id: MuxStreamID, offering offered: Int) -> Dictionary<
        MuxStreamID, MuxStream
    >.Index? {
        guard case .open = state, let index = streams.index(forKey: id) else { return nil }
        precondition(!streams.values[index].sendClosed, "send on \(id) after finish")
        precondition(streams.values[index].maySend, "send on \(id) before accept")
        if streams.values[index].sendWindow < offered { streams.values[index].sendBlocked = true }
        return offered > 0 && streams.values[index].sendWindow > 0 ? index : nil
    }

    /// The application wrote `count` delivered bytes of `id` onward: they are credited
    /// back to the peer (in one WINDOW frame per quarter of the initial window, so a
    /// stream streams without stalls and updates stay rare). This is what bounds memory:
    /// a stream whose bytes are never consumed stops at its window.
    public mutating func consumed(_ id: MuxStreamID, _ count: Int) {
        guard let index = streams.index(forKey: id) else { return }
        precondition(count >= 0 && count <= streams.values[index].unconsumed,
                     "consumed(\(id), \(count)) of \(streams.values[index].unconsumed) delivered bytes")
        streams.values[index].unconsumed -= count
        if streams.values[index].receiveClosed { return }  // no more DATA will come: no credit needed
        streams.values[index].creditPending += count
        let pending = streams.values[index].creditPending
        guard pending >= windowUpdateThreshold, case .open = state else { return }
        streams.values[index].creditPending = 0
        streams.values[index].receiveWindow += pending
        releaseAccept(index)
        write(.window(id, increment: UInt32(pending)))
    }

    /// Half-closes the stream: this end sends no more DATA (FIN). The stream is gone
    /// once the peer has finished too. Finishing twice does nothing.
    /// Precondition: an inbound stream was accepted first.
    public mutating func finish(_ id: MuxStreamID) {
        guard let index = streams.index(forKey: id), !streams.values[index].sendClosed else { return }
        precondition(streams.values[index].maySend, "finish(\(id)) before accept")
        streams.values[index].sendClosed = true
        releaseAccept(index)
        write(.fin(id))
        if streams.values[index].isDone { remove(id) }
    }

    /// Ends the stream in both directions at once (RST with `code` and `reason`); it is
    /// gone at once and bytes still arriving for it are discarded.
    public mutating func reset(_ id: MuxStreamID, code: MuxErrorCode, reason: String) {
        guard streams[id] != nil else { return }
        write(.reset(id, code, reason: reason))
        remove(id)
    }

    /// Sends a PING; the peer answers with a PONG carrying the same `opaque` value (for
    /// a round-trip time, put a time of the caller's clock in it).
    public mutating func ping(_ opaque: UInt64) {
        guard !isClosed else { return }
        write(.ping(opaque))
    }

    /// Goes away. With `noError` the session drains: the peer may open no new stream (one
    /// that crossed the GOAWAY is refused), streams alive go on until they end, and
    /// `isDrained` says when the transport may close. With any other code the session is
    /// over at once: every stream is gone (no events: the caller decided it) and the
    /// GOAWAY is the last frame. A second drain does nothing.
    public mutating func goAway(_ code: MuxErrorCode = .noError, reason: String) {
        guard !isClosed else { return }
        if code == .noError {
            guard goAwaySent == nil else { return }
            goAwaySent = MuxStreamID(peerHighestID)
            write(.goAway(lastStreamID: MuxStreamID(peerHighestID), code, reason: reason))
            return
        }
        write(.goAway(lastStreamID: MuxStreamID(peerHighestID), code, reason: reason))
        var ignored: [MuxEvent] = []
        closeAll(code, reason, events: &ignored)
    }
}
