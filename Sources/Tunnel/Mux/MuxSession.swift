/// One end of a mux session: many streams over one ordered byte stream (a WebSocket or a
/// node-to-node link). The pure core of docs/PROTOCOL.md, "Mux"; design notes in
/// docs/ARCHITECTURE.md, "Mux".
///
/// Threading: none of its own. A value owned by one event loop (or test); every method
/// runs to completion without I/O, clocks or randomness, so the same calls give the same
/// bytes and events.
///
/// Driving it: feed what the transport read to `receive`, act on the returned events, and
/// hand `takeOutput()` to the transport whenever `hasOutput`. Application calls
/// (`openStream`, `send`, `consumed`, `finish`, `reset`, `ping`, `goAway`) only append
/// frames to the output. The shell stops reading the transport while its own write
/// queue is backed up; then the output stays bounded too, because everything this end
/// writes is either DATA within the peer's credit or a small answer to a frame read.
///
/// Stream ids: a client opens odd ids, a server even ones, strictly increasing. Flow
/// control: per stream only (see ARCHITECTURE.md for why there is no session window).
public struct MuxSession {
    /// Where the session stands.
    public enum State: Sendable, Equatable {
        /// This end's HELLO is in the output; the peer's has not arrived.
        case awaitingHello
        /// Both HELLOs are exchanged.
        case open
        /// Over: a session error (either end) or a GOAWAY with an error code. Input is
        /// ignored and nothing more is written after the final GOAWAY.
        case closed(MuxErrorCode, reason: String)
    }

    /// This end's settings.
    public let configuration: MuxConfiguration
    /// Where the session stands.
    public internal(set) var state: State = .awaitingHello
    /// The peer's HELLO, once accepted.
    public internal(set) var peer: MuxHello?
    /// The negotiated protocol version, once the peer's HELLO is accepted.
    public internal(set) var version: UInt8?
    /// The lastStreamID of the GOAWAY this end sent, if it sent one: the session drains.
    public internal(set) var goAwaySent: MuxStreamID?
    /// The lowest lastStreamID of the GOAWAYs the peer sent, if any.
    public internal(set) var goAwayReceived: MuxStreamID?

    /// Live streams. Invariant: count == localCount + remoteCount, and remoteCount ≤
    /// configuration.maxConcurrentStreams.
    var streams: [MuxStreamID: MuxStream] = [:]
    /// Live streams this end opened.
    var localCount = 0
    /// Live streams the peer opened.
    var remoteCount = 0
    /// The id of the next stream this end opens (above UInt32.max: exhausted).
    var nextLocalID: UInt64
    /// The highest id the peer opened so far (0: none). Every peer id at or below it is
    /// used; an OPEN must name a higher one.
    var peerHighestID: UInt32 = 0
    /// Streams accepted with a held ACCEPT frame, in accept order. Entries whose stream
    /// is gone or whose ACCEPT was written since are skipped; `sendHeldAccepts` empties
    /// it (so it holds at most the accepts made since the last call). Invariant: every
    /// live stream with `acceptHeld` is listed once.
    var heldAccepts: [MuxStreamID] = []
    /// Bytes consumed on a stream before they are granted back in one WINDOW frame.
    let windowUpdateThreshold: Int

    var decoder: MuxDecoder
    /// Encoded frames not yet taken. Invariant: starts with `outputHeadroomBytes` zeros.
    var output: [UInt8] = []
    /// A buffer handed back by `recycleOutput`, reused by the next `takeOutput`.
    private var spareOutput: [UInt8]?

    /// A session whose HELLO is already in the output.
    /// Precondition: `configuration.problem == nil`.
    public init(configuration: MuxConfiguration) {
        if let problem = configuration.problem { preconditionFailure("MuxConfiguration: \(problem)") }
        self.configuration = configuration
        self.nextLocalID = UInt64(configuration.role.firstStreamID)
        self.windowUpdateThreshold = max(1, configuration.initialWindowBytes / 4)
        self.decoder = MuxDecoder(frameBytesMax: configuration.frameBytesMax)
        output.append(contentsOf: repeatElement(0, count: configuration.outputHeadroomBytes))
        write(.hello(configuration.hello))
    }

    // MARK: - Observers

    /// Streams alive now (opened and not yet finished both ways or reset).
    public var liveStreamCount: Int { streams.count }

    /// Whether `id` is alive.
    public func isLive(_ id: MuxStreamID) -> Bool { streams[id] != nil }

    /// The live streams, ascending.
    public var liveStreamIDs: [MuxStreamID] { streams.keys.sorted() }

    /// How many more bytes `send` would take on `id` now (0 if it is gone or finished).
    public func sendWindow(_ id: MuxStreamID) -> Int {
        guard case .open = state, let stream = streams[id], !stream.sendClosed else { return 0 }
        return stream.sendWindow
    }

    /// Bytes delivered on `id` and not yet `consumed` (0 if it is gone).
    public func unconsumedBytes(_ id: MuxStreamID) -> Int { streams[id]?.unconsumed ?? 0 }

    /// Whether the session is closed, or draining (a GOAWAY either way) with no stream
    /// left: once the output is written, the transport can be closed.
    public var isDrained: Bool {
        if case .closed = state { return true }
        return (goAwaySent != nil || goAwayReceived != nil) && streams.isEmpty
    }

    /// Whether the session is closed.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Bytes held for a frame split across inputs (bounded by the frame limit).
    public var bufferedInputBytes: Int { decoder.bufferedBytes }

    // MARK: - Output

    /// Whether encoded frames wait in the output.
    public var hasOutput: Bool { output.count > configuration.outputHeadroomBytes }

    /// Encoded bytes waiting in the output (not counting the headroom).
    public var outputBytes: Int { output.count - configuration.outputHeadroomBytes }

    /// Hands over the encoded frames. The first `outputHeadroomBytes` bytes of the result
    /// are free for the transport's header; the frames follow. Give the buffer back with
    /// `recycleOutput` once written, so its storage is reused.
    public mutating func takeOutput() -> [UInt8] {
        var fresh = spareOutput ?? []
        spareOutput = nil
        fresh.removeAll(keepingCapacity: true)
        fresh.append(contentsOf: repeatElement(0, count: configuration.outputHeadroomBytes))
        swap(&fresh, &output)
        return fresh
    }

    /// Returns a buffer from `takeOutput` that the transport no longer needs.
    public mutating func recycleOutput(_ buffer: [UInt8]) {
        if spareOutput == nil { spareOutput = buffer }
    }

    /// Frees the output buffers' storage when nothing waits in them: call it when the
    /// carrier goes quiet, so an idle session holds no buffer sized for its last burst
    /// (10,000 idle sessions must fit in 16 KiB each). The next frame allocates anew.
    public mutating func releaseIdleMemory() {
        spareOutput = nil
        guard !hasOutput, output.capacity > 64 else { return }
        output = []
        output.append(contentsOf: repeatElement(0, count: configuration.outputHeadroomBytes))
    }

    /// Bytes of buffer storage the session holds now (output, spare, partial input frame),
    /// not counting its per-stream state.
    public var bufferCapacityBytes: Int {
        output.capacity + (spareOutput?.capacity ?? 0) + decoder.bufferedCapacityBytes
    }

    /// Appends one encoded frame to the output.
    mutating func write(_ frame: MuxFrame) {
        frame.encode(into: &output)
    }

    // MARK: - Streams

    /// What a frame's stream id refers to.
    enum StreamLookup {
        /// A live stream, at this index of `streams`.
        case live(Dictionary<MuxStreamID, MuxStream>.Index)
        /// A stream that existed and is gone: frames for it were in flight; discard them.
        case closed
        /// An id no one opened: a session error.
        case neverOpened
    }

    func lookup(_ id: MuxStreamID) -> StreamLookup {
        if let index = streams.index(forKey: id) { return .live(index) }
        if id.opener == configuration.role {
            return UInt64(id.rawValue) < nextLocalID ? .closed : .neverOpened
        }
        return id.rawValue <= peerHighestID ? .closed : .neverOpened
    }

    /// Forgets a stream (finished both ways or reset).
    mutating func remove(_ id: MuxStreamID) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if stream.isLocal { localCount -= 1 } else { remoteCount -= 1 }
    }

    /// Ends every stream (reporting each, ascending) and closes the session.
    mutating func closeAll(_ code: MuxErrorCode, _ reason: String, events: inout [MuxEvent]) {
        for id in streams.keys.sorted() { events.append(.reset(id, code, reason: reason)) }
        streams.removeAll()
        heldAccepts.removeAll()
        localCount = 0
        remoteCount = 0
        state = .closed(code, reason: reason)
    }
}
