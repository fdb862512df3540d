/// One mux stream's TCP socket inside a `MuxBridge`: the connection's delegate, which
/// hands every event to the bridge (the bridge owns the session and decides).
///
/// Threading: loop-confined, like its connection and bridge.
final class BridgeStream: ConnectionDelegate, ConnectionReadTarget {
    let id: MuxStreamID
    let connection: Connection
    let descriptor: [UInt8]
    /// The client's address (carried) or the target's (dialled).
    let remote: String
    /// Whether this end opened the stream (`carry`) rather than the peer.
    let isCarried: Bool
    /// Weak: the bridge keeps its streams in a map; a connection outliving it (its
    /// close is reported at the end of an event) must not keep it alive.
    weak var bridge: MuxBridge?

    /// Connected and, for a dialled stream, accepted: its socket may be read.
    var isActive: Bool
    /// The stream's send window is 0: reading waits for `.windowOpened`.
    var pausedForWindow = false
    /// This end sent FIN (the socket's read side ended).
    var finSent = false
    /// Bytes delivered to the socket and not yet credited back with `consumed`, because
    /// the socket was above its high watermark. Invariant: > 0 only while the socket
    /// has not drained since; credited in one go at `connectionDidDrain`.
    var heldCredit = 0
    /// Peer → socket bytes.
    var bytesIn: UInt64 = 0
    /// Socket → peer bytes.
    var bytesOut: UInt64 = 0
    /// Why the bridge ended the stream, when it did (reported instead of the socket's own).
    var closeReason: String?
    /// When the stream was created (Unix ms, wall clock), for session listings.
    let openedAtMillis = MuxBridge.wallClockMillis()

    init(id: MuxStreamID, connection: Connection, descriptor: [UInt8], remote: String, isCarried: Bool,
         bridge: MuxBridge) {
        self.id = id
        self.connection = connection
        self.descriptor = descriptor
        self.remote = remote
        self.isCarried = isCarried
        self.isActive = isCarried
        self.bridge = bridge
    }

    func connectionDidBecomeActive(_ connection: Connection) {
        if !isCarried { bridge?.dialledStreamConnected(self) }
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        bridge?.streamRead(self, bytes)
    }

    func connection(_ connection: Connection, readInPlace maxBytes: Int) -> Bool {
        bridge?.streamReadInPlace(self, maxBytes: maxBytes) ?? false
    }

    func connectionDidReadEOF(_ connection: Connection) {
        bridge?.streamReadEOF(self)
    }

    func connectionDidDrain(_ connection: Connection) {
        bridge?.streamDrained(self)
    }

    func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
        bridge?.streamClosed(self, error)
    }
}
