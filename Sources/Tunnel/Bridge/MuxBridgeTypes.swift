/// Values a `MuxBridge` exchanges with its owner: the answer to a peer's OPEN, the audit
/// events of its streams, and its counters.

/// What the side that receives an OPEN decides for it (the node or connector checks the
/// descriptor against its mappings).
public enum MuxOpenDecision: Sendable, Equatable {
    /// Connect a TCP socket to this address and carry the stream over it; the stream is
    /// accepted once the connection is up, refused with `connectFailed` if it fails.
    case dial(SocketAddress)
    /// Carry the stream over this connected socket (non-blocking; ownership moves to the
    /// bridge, which closes it when the stream ends): the stream is accepted at once.
    /// `remote` names the other end for the audit. The node uses it to splice a stream
    /// into another session through a socket pair (`MuxBridge.socketPair()`).
    case adopt(fd: Int32, remote: String)
    /// Refuse the stream (RST with `code` and `reason`); nothing is dialled.
    case refuse(code: MuxErrorCode, reason: String)
}

/// What happened to one stream of a bridge, for the audit log. Reported on the bridge's
/// loop, in order: a stream is `opened` then `closed` exactly once each; a stream that
/// never got going is `refused` instead.
public enum MuxBridgeEvent: Sendable, Equatable {
    /// A stream is carrying bytes: a socket this end carried (`remote` is the client's
    /// address) or a target this end dialled for the peer (`remote` is the target).
    case opened(stream: UInt32, descriptor: [UInt8], remote: String)
    /// The stream ended. `bytesIn` came from the peer and went to the socket, `bytesOut`
    /// went the other way; `reason` says who ended it and why ("finished" when both
    /// directions closed in order).
    case closed(stream: UInt32, bytesIn: UInt64, bytesOut: UInt64, reason: String)
    /// A stream never got going: this end's `onOpen` refused it, its target could not
    /// be reached, or a carried socket could not be opened as a stream (the socket was
    /// closed). A stream the peer refuses is `opened` then `closed` with the peer's reason.
    case refused(descriptor: [UInt8], reason: String)
}

/// Counters of one bridge, readable from any thread (relaxed atomics: each is exact,
/// they are not a consistent snapshot together).
public final class MuxBridgeStatistics: Sendable {
    /// Streams reported `opened`.
    public let streamsOpened = AtomicCounter()
    /// Streams reported `closed`.
    public let streamsClosed = AtomicCounter()
    /// Streams reported `refused`.
    public let streamsRefused = AtomicCounter()
    /// Stream bytes from the peer written to sockets.
    public let bytesIn = AtomicCounter()
    /// Stream bytes read from sockets and sent to the peer.
    public let bytesOut = AtomicCounter()
    /// The most output ever pending on one stream's socket (what credit holding bounds:
    /// at most the stream's high watermark plus its receive window).
    public let streamPendingBytesMax = AtomicCounter()
    /// WebSocket messages sent (each carries one full stream read, or every frame one
    /// loop event produced).
    public let messagesSent = AtomicCounter()
    /// Times a stream's socket stopped being read because its send window ran out (the
    /// peer had not credited enough back yet): a busy stream that stalls often needs a
    /// larger window.
    public let windowStalls = AtomicCounter()
    /// Times every socket stopped being read because the WebSocket's output was above
    /// its high watermark.
    public let channelStalls = AtomicCounter()

    init() {}
}
