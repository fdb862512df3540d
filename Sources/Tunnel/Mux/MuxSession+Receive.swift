/// The peer's side of a session: decoding input and applying each frame
/// (docs/PROTOCOL.md, "Mux" → state table and error table).
///
/// A peer can end a stream (RST with a reason, reported as `.reset`) or the session
/// (GOAWAY with a reason, reported as `.sessionError`), never more: every rejection is a
/// value, and work per frame is O(1) apart from the session's end and a GOAWAY, which
/// visit each live stream once.
extension MuxSession {
    /// Decodes `bytes` (any piece of the peer's byte stream) and appends what happened
    /// to `events`. Payload slices in the events may share storage with `bytes`.
    /// After the session closed, input is ignored.
    public mutating func receive(_ bytes: ArraySlice<UInt8>, into events: inout [MuxEvent]) {
        if isClosed { return }
        decoder.feed(bytes)
        while let result = decoder.next() {
            switch result {
            case .success(let frame):
                apply(frame, events: &events)
                if isClosed { return }
            case .failure(let error):
                fail(error.code, error.reason, events: &events)
                return
            }
        }
    }

    /// `receive` returning the events.
    public mutating func receive(_ bytes: ArraySlice<UInt8>) -> [MuxEvent] {
        var events: [MuxEvent] = []
        receive(bytes, into: &events)
        return events
    }

    /// `receive` returning the events.
    public mutating func receive(_ bytes: [UInt8]) -> [MuxEvent] {
        receive(bytes[...])
    }

    /// `receive` for bytes in a buffer that the caller reuses: they are copied once.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> [MuxEvent] {
        receive(Array(bytes))
    }

    // MARK: - Frames

    mutating func apply(_ frame: MuxFrame, events: inout [MuxEvent]) {
        if case .awaitingHello = state {
            guard case .hello(let hello) = frame else {
                return fail(.protocolError, "the first frame was \(frame.type), not HELLO", events: &events)
            }
            return applyHello(hello, events: &events)
        }
        switch frame {
        case .hello: fail(.protocolError, "a second HELLO", events: &events)
        case .open(let id, let descriptor): applyOpen(id, descriptor, events: &events)
        case .accept(let id): applyAccept(id, events: &events)
        case .data(let id, let bytes): applyData(id, bytes, events: &events)
        case .window(let id, let increment): applyWindow(id, Int(increment), events: &events)
        case .fin(let id): applyFin(id, events: &events)
        case .reset(let id, let code, let reason): applyReset(id, code, reason, events: &events)
        case .ping(let opaque):
            write(.pong(opaque))
            events.append(.ping(opaque))
        case .pong(let opaque): events.append(.pong(opaque))
        case .goAway(let last, let code, let reason): applyGoAway(last, code, reason, events: &events)
        }
    }

    private mutating func applyHello(_ hello: MuxHello, events: inout [MuxEvent]) {
        let negotiated = min(MuxProtocol.versionMax, hello.versionMax)
        if negotiated < max(MuxProtocol.versionMin, hello.versionMin) || hello.versionMin > hello.versionMax {
            return fail(
                .unsupportedVersion,
                "the peer speaks versions \(hello.versionMin)…\(hello.versionMax), this end "
                    + "\(MuxProtocol.versionMin)…\(MuxProtocol.versionMax)", events: &events)
        }
        if hello.role == configuration.role {
            return fail(.protocolError, "both ends have the role \(hello.role)", events: &events)
        }
        let frame = Int(hello.frameBytesMax)
        if frame < MuxProtocol.frameBytesMin || frame > MuxProtocol.frameBytesLimit {
            return fail(
                .protocolError,
                "HELLO frameBytesMax \(frame) is outside \(MuxProtocol.frameBytesMin)…\(MuxProtocol.frameBytesLimit)",
                events: &events)
        }
        let window = Int(hello.initialWindowBytes)
        if window < 1 || window > MuxProtocol.windowBytesLimit {
            return fail(
                .protocolError, "HELLO initialWindowBytes \(window) is outside 1…\(MuxProtocol.windowBytesLimit)",
                events: &events)
        }
        peer = hello
        version = negotiated
        state = .open
        events.append(.ready(hello))
    }

    private mutating func applyOpen(_ id: MuxStreamID, _ descriptor: ArraySlice<UInt8>, events: inout [MuxEvent]) {
        if id.opener == configuration.role {
            return fail(.protocolError, "OPEN of \(id), an id of this end's role", events: &events)
        }
        if id.rawValue <= peerHighestID {
            return fail(
                .protocolError, "OPEN reuses \(id) (ids must increase; the last was \(peerHighestID))",
                events: &events)
        }
        peerHighestID = id.rawValue
        if goAwaySent != nil {
            return write(.reset(id, .refused, reason: "the session is going away"))
        }
        if remoteCount >= configuration.maxConcurrentStreams {
            return write(
                .reset(id, .refused, reason: "too many streams (limit \(configuration.maxConcurrentStreams))"))
        }
        if descriptor.count > configuration.descriptorBytesMax {
            return write(
                .reset(
                    id, .frameSize,
                    reason: "descriptor of \(descriptor.count) bytes exceeds \(configuration.descriptorBytesMax)"))
        }
        streams[id] = MuxStream(
            isLocal: false, sendWindow: Int(peer!.initialWindowBytes), receiveWindow: configuration.initialWindowBytes)
        remoteCount += 1
        events.append(.opened(id, descriptor: descriptor))
    }

    /// The live stream `id` names, or `nil` when the frame is to be discarded (the
    /// stream is gone) or the session failed (no one opened `id`).
    private mutating func liveStream(
        _ id: MuxStreamID, _ type: MuxFrameType, events: inout [MuxEvent]
    ) -> Dictionary<MuxStreamID, MuxStream>.Index? {
        switch lookup(id) {
        case .live(let index): return index
        case .closed: return nil
        case .neverOpened:
            fail(.protocolError, "\(type) frame for \(id), which was never opened", events: &events)
            return nil
        }
    }

    /// Ends one stream because the peer broke a rule on it: RST to the peer, `.reset` to
    /// the application; the session goes on.
    private mutating func streamError(
        _ id: MuxStreamID, _ code: MuxErrorCode, _ reason: String, events: inout [MuxEvent]
    ) {
        write(.reset(id, code, reason: reason))
        remove(id)
        events.append(.reset(id, code, reason: reason))
    }

    private mutating func applyAccept(_ id: MuxStreamID, events: inout [MuxEvent]) {
        guard let index = liveStream(id, .accept, events: &events) else { return }
        if !streams.values[index].isLocal {
            return streamError(id, .protocolError, "ACCEPT for a stream the peer opened", events: &events)
        }
        if streams.values[index].isAccepted {
            return streamError(id, .protocolError, "a second ACCEPT", events: &events)
        }
        streams.values[index].isAccepted = true
        events.append(.accepted(id))
    }

    private mutating func applyData(_ id: MuxStreamID, _ bytes: ArraySlice<UInt8>, events: inout [MuxEvent]) {
        guard let index = liveStream(id, .data, events: &events) else { return }
        let stream = streams.values[index]
        if stream.isLocal && !stream.isAccepted {
            return streamError(id, .protocolError, "DATA before ACCEPT", events: &events)
        }
        if stream.receiveClosed {
            return streamError(id, .streamClosed, "DATA after FIN", events: &events)
        }
        if bytes.count > stream.receiveWindow {
            return streamError(
                id, .flowControl, "\(bytes.count) bytes of DATA with \(stream.receiveWindow) bytes of credit",
                events: &events)
        }
        streams.values[index].receiveWindow -= bytes.count
        streams.values[index].unconsumed += bytes.count
        events.append(.data(id, bytes))
    }

    private mutating func applyWindow(_ id: MuxStreamID, _ increment: Int, events: inout [MuxEvent]) {
        guard let index = liveStream(id, .window, events: &events) else { return }
        if increment == 0 {
            return streamError(id, .protocolError, "WINDOW with increment 0", events: &events)
        }
        let window = streams.values[index].sendWindow + increment
        if window > MuxProtocol.windowBytesLimit {
            return streamError(id, .flowControl, "WINDOW grows the window to \(window) bytes (over 2^31 - 1)",
                               events: &events)
        }
        streams.values[index].sendWindow = window
        if streams.values[index].sendBlocked && !streams.values[index].sendClosed {
            streams.values[index].sendBlocked = false
            events.append(.windowOpened(id))
        }
    }

    private mutating func applyFin(_ id: MuxStreamID, events: inout [MuxEvent]) {
        guard let index = liveStream(id, .fin, events: &events) else { return }
        let stream = streams.values[index]
        if stream.isLocal && !stream.isAccepted {
            return streamError(id, .protocolError, "FIN before ACCEPT", events: &events)
        }
        if stream.receiveClosed {
            return streamError(id, .streamClosed, "a second FIN", events: &events)
        }
        streams.values[index].receiveClosed = true
        streams.values[index].creditPending = 0
        events.append(.finished(id))
        if streams.values[index].isDone { remove(id) }
    }

    private mutating func applyReset(
        _ id: MuxStreamID, _ code: MuxErrorCode, _ reason: String, events: inout [MuxEvent]
    ) {
        guard liveStream(id, .reset, events: &events) != nil else { return }
        remove(id)
        events.append(.reset(id, code, reason: reason))
    }

    private mutating func applyGoAway(
        _ last: MuxStreamID, _ code: MuxErrorCode, _ reason: String, events: inout [MuxEvent]
    ) {
        if code != .noError {
            closeAll(code, "the peer went away: \(reason)", events: &events)
            events.append(.goAway(lastStreamID: last, code, reason: reason))
            return
        }
        let lowered = goAwayReceived.map { last < $0 } ?? true
        if lowered {
            goAwayReceived = last
            // Streams this end opened above `last` were never processed by the peer.
            let unprocessed = streams.keys.filter { streams[$0]!.isLocal && $0 > last }.sorted()
            for id in unprocessed {
                remove(id)
                events.append(.reset(id, .refused, reason: "the peer is going away and did not process it"))
            }
        }
        events.append(.goAway(lastStreamID: goAwayReceived!, code, reason: reason))
    }

    /// A session error: every stream ends, GOAWAY with the code is the last frame.
    mutating func fail(_ code: MuxErrorCode, _ reason: String, events: inout [MuxEvent]) {
        write(.goAway(lastStreamID: MuxStreamID(peerHighestID), code, reason: reason))
        closeAll(code, reason, events: &events)
        events.append(.sessionError(code, reason: reason))
    }
}
