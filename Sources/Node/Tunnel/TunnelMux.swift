import Tunnel

/// The mux settings of every Warren session (connector ↔ node, node ↔ node relay links).
enum TunnelMux {
    /// Streams one end lets the other open at once on one session. Every client of a
    /// tunnel on a node is one stream of its connector's session (and, entering at
    /// another node, of a relay link), so this is the number of concurrent sessions one
    /// connector can carry — the BRIEF's 10,000 idle sessions on one node with room to
    /// spare. An idle stream costs its state and socket only (a few KiB, measured by
    /// Benchmarks/idle-sessions): the per-stream window bounds memory once data flows.
    static let streamsPerSessionMax = 65_536

    /// The credit each end grants per stream (announced in HELLO), and so the most a
    /// stream with a stalled target holds on the receiving end (plus its socket's high
    /// watermark). 1 MiB is four of the bridge's 256 KiB reads: several WebSocket
    /// messages of one stream are in flight at once, so the sender reads and encrypts
    /// the next while the receiver decrypts and writes the last (docs/BENCHMARKS.md,
    /// "Data path: reads in flight"). A window bounds memory; it allocates nothing, so
    /// idle sessions cost the same as with a smaller one.
    static let streamWindowBytes = 1024 * 1024

    /// DATA frames as large as a full read (`MuxBridge.dataFrameBytes`: read in place, one
    /// write on the receiver). Output buffers keep room for the WebSocket frame header, so
    /// each flush reaches TLS as one write (`WebSocketChannel.send(binaryInPlace:headroom:)`).
    static func configuration(_ role: MuxRole) -> MuxConfiguration {
        MuxConfiguration(
            role: role, frameBytesMax: MuxBridge.dataFrameBytes, initialWindowBytes: streamWindowBytes,
            maxConcurrentStreams: streamsPerSessionMax,
            outputHeadroomBytes: WebSocketFrameEncoder.headerBytesMax)
    }
}
