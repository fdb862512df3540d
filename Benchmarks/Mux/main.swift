// Mux throughput in memory (no sockets, no TLS): what the framing, flow control and
// copies cost per byte, on one core. Compiled by scripts/bench-mux with -O together with
// Sources/Tunnel/Mux. Usage: bench-mux [GiB (4)] [window KiB (256)] [frame KiB (64)]

let arguments = CommandLine.arguments
let gib = arguments.count > 1 ? Int(arguments[1]) ?? 4 : 4
let windowKiB = arguments.count > 2 ? Int(arguments[2]) ?? 256 : 256
let frameKiB = arguments.count > 3 ? Int(arguments[3]) ?? 64 : 64
let totalBytes = gib << 30

func configuration(_ role: MuxRole) -> MuxConfiguration {
    MuxConfiguration(role: role, frameBytesMax: frameKiB * 1024, initialWindowBytes: windowKiB * 1024,
                     outputHeadroomBytes: 14)
}

/// A connected pair past HELLO.
func readyPair() -> (MuxSession, MuxSession) {
    var client = MuxSession(configuration: configuration(.client))
    var server = MuxSession(configuration: configuration(.server))
    _ = server.receive(client.takeOutput().dropFirst(14))
    _ = client.receive(server.takeOutput().dropFirst(14))
    return (client, server)
}

/// The bytes senders read from: 64 MiB, walked in 64 KiB pieces, so sources are not all
/// cache-hot (a socket read's bytes would not be either).
let source = (0..<(64 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }

/// The next 64 KiB piece of `source` (at most `limit` bytes), for a sender at `offset`.
func piece(_ offset: Int, limit: Int, size: Int = 64 * 1024) -> Range<Int> {
    let start = offset % source.count
    return start..<(start + min(size, limit, source.count - start))
}

/// Moves `totalBytes` from `client` to `server` over `streamCount` streams. Returns seconds.
/// `sendBytes` is the size of each `send` (a socket read's size): small ones measure the
/// per-frame cost.
func runDirect(streamCount: Int, sendBytes: Int = 64 * 1024, totalBytes: Int = totalBytes) -> Double {
    var (client, server) = readyPair()
    var ids: [MuxStreamID] = []
    for n in 0..<streamCount { ids.append(try! client.openStream(descriptor: Array("s\(n)".utf8))) }
    var events: [MuxEvent] = []
    var sent = 0
    var received = 0
    var checksum = 0
    let start = ContinuousClock.now
    while received < totalBytes {
        // The producer: each stream sends while it has credit and the output is not backed up.
        for id in ids where sent < totalBytes {
            while client.outputBytes < 1 << 20, sent < totalBytes {
                let taken = source.withUnsafeBytes { client.send(id, UnsafeRawBufferPointer(rebasing: $0[piece(sent, limit: totalBytes - sent, size: sendBytes)])) }
                if taken == 0 { break }
                sent += taken
            }
        }
        let wire = client.takeOutput()
        server.receive(wire.dropFirst(14), into: &events)
        client.recycleOutput(wire)
        for event in events {
            switch event {
            case .opened(let id, _): server.accept(id)
            case .data(let id, let bytes):
                received += bytes.count
                checksum &+= Int(bytes[bytes.startIndex])
                server.consumed(id, bytes.count)
            default: break
            }
        }
        events.removeAll(keepingCapacity: true)
        if server.hasOutput {
            let back = server.takeOutput()
            client.receive(back.dropFirst(14), into: &events)
            server.recycleOutput(back)
            events.removeAll(keepingCapacity: true)
        }
    }
    let elapsed = ContinuousClock.now - start
    precondition(received == totalBytes)
    _ = checksum
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// client → node → connector: the node takes DATA from one session and sends it on the
/// other (the relay's hop), so every byte is framed, parsed and copied twice.
func runRelay() -> Double {
    var (client, nodeIn) = readyPair()
    var (nodeOut, connector) = readyPair()
    let inbound = try! client.openStream(descriptor: Array("relay".utf8))
    let outbound = try! nodeOut.openStream(descriptor: Array("relay".utf8))
    var events: [MuxEvent] = []
    var backlog: [ArraySlice<UInt8>] = []  // bytes the node holds (bounded by the inbound window)
    var sent = 0
    var received = 0
    let start = ContinuousClock.now
    while received < totalBytes {
        while client.outputBytes < 1 << 20, sent < totalBytes {
            let taken = source.withUnsafeBytes { client.send(inbound, UnsafeRawBufferPointer(rebasing: $0[piece(sent, limit: totalBytes - sent)])) }
            if taken == 0 { break }
            sent += taken
        }
        let wire = client.takeOutput()
        nodeIn.receive(wire.dropFirst(14), into: &events)
        client.recycleOutput(wire)
        for event in events {
            switch event {
            case .opened(let id, _): nodeIn.accept(id)
            case .data(_, let bytes): backlog.append(bytes)
            default: break
            }
        }
        events.removeAll(keepingCapacity: true)
        // The node forwards what the outbound window takes and credits the inbound stream.
        while let first = backlog.first {
            let taken = nodeOut.send(outbound, first)
            if taken > 0 { nodeIn.consumed(inbound, taken) }
            if taken < first.count {
                backlog[0] = first.dropFirst(taken)
                break
            }
            backlog.removeFirst()
        }
        let hop = nodeOut.takeOutput()
        connector.receive(hop.dropFirst(14), into: &events)
        nodeOut.recycleOutput(hop)
        for event in events {
            switch event {
            case .opened(let id, _): connector.accept(id)
            case .data(let id, let bytes):
                received += bytes.count
                connector.consumed(id, bytes.count)
            default: break
            }
        }
        events.removeAll(keepingCapacity: true)
        if connector.hasOutput {
            let back = connector.takeOutput()
            nodeOut.receive(back.dropFirst(14), into: &events)
            connector.recycleOutput(back)
            events.removeAll(keepingCapacity: true)
        }
        if nodeIn.hasOutput {
            let back = nodeIn.takeOutput()
            client.receive(back.dropFirst(14), into: &events)
            nodeIn.recycleOutput(back)
            events.removeAll(keepingCapacity: true)
        }
    }
    let elapsed = ContinuousClock.now - start
    precondition(received == totalBytes)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// `value` with `digits` decimals (no libm: `rounded()` would need it at link time).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int(value * Double(scale) + 0.5)
    let fraction = String(scaled % scale)
    return digits == 0 ? "\(scaled)" : "\(scaled / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
}

func report(_ name: String, _ seconds: Double, bytes: Int = totalBytes) {
    let gbPerSecond = Double(bytes) / seconds / 1e9
    print("\(name): \(fixed(Double(bytes) / Double(1 << 30), 2)) GiB in \(fixed(seconds, 3)) s = \(fixed(gbPerSecond, 2)) GB/s (\(fixed(gbPerSecond * 8, 1)) Gbit/s)")
}

print("mux in memory, window \(windowKiB) KiB, frame \(frameKiB) KiB, one thread")
report("1 stream", runDirect(streamCount: 1))
report("2 streams", runDirect(streamCount: 2))
report("64 streams", runDirect(streamCount: 64))
let small = max(1, totalBytes / 16)
let smallSeconds = runDirect(streamCount: 1, sendBytes: 1024, totalBytes: small)
report("1 stream, 1 KiB sends", smallSeconds, bytes: small)
print("  = \(fixed(Double(small / 1024) / smallSeconds / 1e6, 2)) million DATA frames/s")
report("relay hop (client -> node -> connector, 1 stream)", runRelay())
