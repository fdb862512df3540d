#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@testable import Tunnel

/// Throughput of the data path: clients → StreamListener → bridge (node) → mutual-TLS
/// WebSocket → bridge (connector) → a sink that discards, on loopback. Run by
/// `scripts/bench-bridge` (release build); skipped unless WARREN_BENCH_BRIDGE is set.
/// Settings: BRIDGE_MIB per stream (default 2048 / streams), BRIDGE_WINDOW_KIB (256),
/// BRIDGE_TLS (1), BRIDGE_HEADROOM (14: in-place WebSocket frames; 0: copied), BRIDGE_READ_KIB
/// (the bridge's stream read size, `MuxBridge.defaultStreamReadBytesMax`).
@Suite("Bridge benchmark", .serialized, .enabled(if: getenv("WARREN_BENCH_BRIDGE") != nil))
struct BridgeBenchmark {
    @Test func throughput() throws {
        let window = Int(env("BRIDGE_WINDOW_KIB") ?? "256")! * 1024
        let tls = env("BRIDGE_TLS") != "0"
        let headroom = Int(env("BRIDGE_HEADROOM") ?? "14")!
        let readBytes = env("BRIDGE_READ_KIB").map { Int($0)! * 1024 } ?? MuxBridge.defaultStreamReadBytesMax
        for streams in [1, 8] {
            let mib = Int(env("BRIDGE_MIB") ?? "\(2048 / streams)")!
            let rig = try BridgeRig(window: window, tls: tls, headroom: headroom, readBytes: readBytes)
            defer { rig.stop() }
            let sink = try SinkServer(group: rig.edgeGroup)
            defer { sink.stop() }
            rig.descriptor.set("127.0.0.1:\(sink.port)")
            let clients = try (0..<streams).map { _ in try BlockingClient(port: rig.listener.port) }
            let chunk = pattern(1024 * 1024)
            let total = streams * mib * 1024 * 1024
            let start = MonotonicClock.nowNanos()
            let cpuStart = processCPUSeconds()
            let senders = clients.map { client in
                let fd = client.fd
                return Background {
                    for _ in 0..<mib where !sendAll(fd, chunk) { return }
                    shutdown(fd, Int32(SHUT_WR))
                }
            }
            #expect(eventually(seconds: 60) { sink.received.load >= total }, "sink got \(sink.received.load), node sent \(rig.node.bridge!.statistics.bytesOut.load), connector got \(rig.connector.bridge!.statistics.bytesIn.load)")
            let seconds = Double(MonotonicClock.nowNanos() - start) / 1e9
            let cpuPerGB = (processCPUSeconds() - cpuStart) / (Double(total) / 1e9)
            for sender in senders { _ = sender.wait() }
            withExtendedLifetime(clients) {}  // their deinit closes the sockets
            let gbps = Double(total) / seconds / 1e9
            print(
                "bridge streams=\(streams) window=\(window / 1024)KiB read=\(readBytes / 1024)KiB tls=\(tls) headroom=\(headroom) bytes=\(total): "
                    + "\(fmt(gbps)) GB/s (\(fmt(gbps * 8)) Gbit/s), CPU-s per GB (the whole process: senders, "
                    + "both bridges, sink) \(fmt(cpuPerGB)), messages node→connector "
                    + "\(rig.node.bridge!.statistics.messagesSent.load), window stalls "
                    + "\(rig.node.bridge!.statistics.windowStalls.load), channel stalls "
                    + "\(rig.node.bridge!.statistics.channelStalls.load)")
        }
    }

    /// User + system CPU time of this process so far.
    private func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
    private func fmt(_ value: Double) -> String { String(Int(value * 100)).paddedHundredths }
}

extension String {
    /// "123" → "1.23".
    fileprivate var paddedHundredths: String {
        let padded = count < 3 ? String(repeating: "0", count: 3 - count) + self : self
        return "\(padded.dropLast(2)).\(padded.suffix(2))"
    }
}

/// A target that reads and discards, counting bytes.
final class SinkServer: Sendable {
    let received = AtomicCounter()
    let port: UInt16
    private let loop: EventLoop
    nonisolated(unsafe) private var listener: Listener?

    init(group: EventLoopGroup) throws {
        let loop = group.loops[0]
        self.loop = loop
        let received = received
        let listener = try Relay.onLoop(loop) { () throws -> Listener in
            try Listener(loop: loop, address: try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false) { fd in
                guard let connection = try? Connection(loop: loop, acceptedFD: fd, tls: nil, limits: .init()) else {
                    return
                }
                connection.delegate = Sink(received)
                try? connection.start()
            }
        }
        port = listener.localAddress!.port
        self.listener = listener
    }

    func stop() { _ = try? Relay.onLoop(loop) { [self] in listener?.close() } }

    private final class Sink: ConnectionDelegate {
        let received: AtomicCounter
        init(_ received: AtomicCounter) { self.received = received }
        func connectionDidBecomeActive(_ connection: Connection) {}
        func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) { received.add(bytes.count) }
        func connectionDidReadEOF(_ connection: Connection) { connection.shutdownWrite() }
        func connectionDidDrain(_ connection: Connection) {}
        func connection(_ connection: Connection, didCloseWith error: (any Error)?) {}
    }
}
