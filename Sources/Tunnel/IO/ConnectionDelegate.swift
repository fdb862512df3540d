/// Receives a connection's events. Every method is called on the connection's event
/// loop, from event handling only (never from inside a call the delegate made), so a
/// delegate may freely call back into the connection or its peer.
protocol ConnectionDelegate: AnyObject {
    /// Connected, and for TLS the handshake is complete.
    func connectionDidBecomeActive(_ connection: Connection)
    /// Plaintext arrived. `bytes` is borrowed loop scratch: valid only during the call.
    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer)
    /// The peer will send nothing more (TCP FIN or TLS close_notify).
    func connectionDidReadEOF(_ connection: Connection)
    /// Pending output fell to the low watermark after having reached the high one.
    func connectionDidDrain(_ connection: Connection)
    /// Closed for good; `error` is nil for an orderly close.
    func connection(_ connection: Connection, didCloseWith error: (any Error)?)
}

/// A delegate that lends the buffer a plain read fills, instead of the loop's scratch
/// buffer: a mux bridge reads a stream's socket straight into the DATA frame it reserved in
/// its session's output, so the bytes are not copied again on their way to TLS.
protocol ConnectionReadTarget: AnyObject {
    /// The socket is readable and up to `maxBytes` may be read: call
    /// `connection.read(into:)` at most once, with a buffer of at most `maxBytes`, and
    /// take the bytes it returns (they are this read's, as `didRead`'s would be). Return
    /// false, without reading, to have this read go through the scratch buffer and
    /// `didRead` instead. End of stream and errors are the connection's to handle, after
    /// this returns (the delegate hears of them as usual).
    func connection(_ connection: Connection, readInPlace maxBytes: Int) -> Bool
}

/// Limits of one connection. Every buffer and wait has a bound.
public struct ConnectionLimits: Sendable {
    /// Pending output at which the connection reports itself not writable.
    public var highWatermarkBytes: Int
    /// Pending output at which `connectionDidDrain` fires again.
    public var lowWatermarkBytes: Int
    /// Connect + TLS handshake must finish within this.
    public var handshakeTimeoutNanos: UInt64
    /// A connection with no bytes in either direction for this long is closed (0 = never).
    public var idleTimeoutNanos: UInt64

    public init(
        highWatermarkBytes: Int = 512 * 1024, lowWatermarkBytes: Int = 128 * 1024,
        handshakeTimeoutNanos: UInt64 = 10_000_000_000, idleTimeoutNanos: UInt64 = 300_000_000_000
    ) {
        precondition(lowWatermarkBytes <= highWatermarkBytes)
        self.highWatermarkBytes = highWatermarkBytes
        self.lowWatermarkBytes = lowWatermarkBytes
        self.handshakeTimeoutNanos = handshakeTimeoutNanos
        self.idleTimeoutNanos = idleTimeoutNanos
    }
}
