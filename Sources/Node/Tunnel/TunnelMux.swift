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

    /// Output buffers keep room for the WebSocket frame header, so each flush reaches TLS
    /// as one write (`WebSocketChannel.send(binaryInPlace:headroom:)`).
    static func configuration(_ role: MuxRole) -> MuxConfiguration {
        MuxConfiguration(
            role: role, maxConcurrentStreams: streamsPerSessionMax,
            outputHeadroomBytes: WebSocketFrameEncoder.headerBytesMax)
    }
}
