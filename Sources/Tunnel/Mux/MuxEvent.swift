/// What `MuxSession.receive` reports, in the order the frames arrived.
///
/// Every stream the application learns of (`opened`, or its own `openStream`) ends with
/// exactly one of: both directions finished (`finished` received and `finish` called),
/// a `reset` event, or the application's own `reset`.
public enum MuxEvent: Sendable, Equatable {
    /// The peer's HELLO arrived and was accepted: streams may be opened now.
    case ready(MuxHello)
    /// The peer opened a stream. Answer with `accept` once its target is connected, or
    /// `reset` to refuse it. DATA may arrive before that (bounded by the window). The
    /// descriptor may share storage with the input: copy it to keep it.
    case opened(MuxStreamID, descriptor: ArraySlice<UInt8>)
    /// The peer accepted a stream this end opened.
    case accepted(MuxStreamID)
    /// Stream bytes. The slice may share storage with the input (no copy was made): use
    /// it or copy it before the next `receive`; holding it keeps the whole input alive.
    /// Call `consumed` once the bytes have been written onward.
    case data(MuxStreamID, ArraySlice<UInt8>)
    /// The peer half-closed the stream: no more data will arrive on it.
    case finished(MuxStreamID)
    /// The stream is gone in both directions: reset by the peer, or by this session
    /// because the peer broke a rule on it (the reason says which), or because the
    /// session ended. Nothing more may be sent on it.
    case reset(MuxStreamID, MuxErrorCode, reason: String)
    /// A stream whose `send` took less than offered may send again.
    case windowOpened(MuxStreamID)
    /// The peer sent a PING; the PONG is already in the output.
    case ping(UInt64)
    /// The peer answered a PING.
    case pong(UInt64)
    /// The peer is going away: streams this end opened above `lastStreamID` were reset
    /// (events before this one); no new stream may be opened. With a code other than
    /// `noError` the session is over and every stream was reset.
    case goAway(lastStreamID: MuxStreamID, MuxErrorCode, reason: String)
    /// The peer broke a session-level rule; every stream was reset (events before this
    /// one), a GOAWAY with the code is in the output, and the session is closed.
    case sessionError(MuxErrorCode, reason: String)
}

/// Why `MuxSession.openStream` could not open a stream. A value, not a fault: the
/// caller refuses or retries its client elsewhere.
public enum MuxOpenError: Error, Sendable, Equatable {
    /// The peer's HELLO has not arrived yet (its limits are unknown).
    case notReady
    /// The peer's limit of concurrent streams is reached.
    case tooManyStreams(limit: Int)
    /// A GOAWAY was sent or received: the session is draining.
    case goingAway
    /// The session is closed (an error, or a GOAWAY with an error code).
    case sessionClosed
    /// The descriptor is larger than the peer accepts.
    case descriptorTooLarge(bytes: Int, limit: Int)
    /// Every stream id of this role was used; open a new session.
    case streamIDsExhausted
}
