#if canImport(Glibc)
import Glibc
#endif
import Dispatch
public import Synchronization

/// A TCP relay on the I/O core: every connection accepted on `listen` is paired with a
/// new connection to `target`, bytes flow both ways with backpressure, and either side
/// may be TLS — stunnel's job. The first user of the core, and a debugging aid.
///
/// Threading: one listener per loop (SO_REUSEPORT), and each pair of connections lives
/// on the loop that accepted it, so the hot path never crosses threads.
public final class Relay: Sendable {
    public enum Mode: Sendable {
        /// Plain on both sides.
        case plain
        /// Plain in, TLS out: the client side, verifying the target's certificate
        /// against `serverName` (defaults to the target's host).
        case tlsClient(TLSContextProvider, serverName: String?)
        /// TLS in (client certificate as the context requires), plain out.
        case tlsServer(TLSContextProvider)
    }

    public struct Configuration: Sendable {
        public var listen: SocketAddress
        public var target: SocketAddress
        public var mode: Mode
        public var limits: ConnectionLimits

        public init(listen: SocketAddress, target: SocketAddress, mode: Mode, limits: ConnectionLimits = .init()) {
            self.listen = listen
            self.target = target
            self.mode = mode
            self.limits = limits
        }
    }

    /// Counters readable from any thread.
    public final class Statistics: Sendable {
        public let accepted = AtomicCounter()
        public let active = AtomicCounter()
        public let failed = AtomicCounter()
        /// The most output ever pending on one connection (what backpressure bounds).
        public let maxPendingBytes = AtomicCounter()
        public let lastError = Mutex<String?>(nil)
        init() {}
    }

    public let configuration: Configuration
    public let statistics = Statistics()
    public let port: UInt16
    private let group: EventLoopGroup
    // Safe: slot i is touched only on loops[i]'s thread (set in start, cleared in stop).
    nonisolated(unsafe) private var listeners: [Listener?]

    /// Binds on every loop of `group` and starts accepting.
    public init(_ configuration: Configuration, group: EventLoopGroup) throws {
        self.configuration = configuration
        self.group = group
        listeners = Array(repeating: nil, count: group.loops.count)
        var address = configuration.listen
        var boundPort: UInt16 = 0
        for (i, loop) in group.loops.enumerated() {
            let listener = try Self.onLoop(loop) { [configuration, statistics] () throws -> Listener in
                try Listener(loop: loop, address: address, reusePort: true) { fd in
                    RelayPair.start(acceptedFD: fd, loop: loop, configuration: configuration, statistics: statistics)
                }
            }
            if i == 0, let local = listener.localAddress {
                // Port 0 picked a port: the other loops' listeners must share that one.
                boundPort = local.port
                address = local
            }
            listeners[i] = listener
        }
        port = boundPort
    }

    /// Stops accepting; live pairs carry on until they close.
    public func stop() {
        for (i, loop) in group.loops.enumerated() {
            _ = try? Self.onLoop(loop) { [self] in
                listeners[i]?.close()
                listeners[i] = nil
            }
        }
    }

    /// Runs `body` on `loop` and waits for its result (start-up and shutdown only).
    static func onLoop<T>(_ loop: EventLoop, _ body: @escaping () throws -> T) throws -> T {
        let call = BlockingCall(body)
        loop.execute { call.run() }
        return try call.wait()
    }
}

/// One accepted connection and its outbound partner. Loop thread only.
///
/// Invariant: bytes read from one side are written to the other in order; a side is
/// read only while the other side is writable (below its high watermark).
final class RelayPair: ConnectionDelegate {
    private var inbound: Connection?
    private var outbound: Connection?
    private let statistics: Relay.Statistics
    private let loop: EventLoop
    private let configuration: Relay.Configuration

    private init(statistics: Relay.Statistics, loop: EventLoop, configuration: Relay.Configuration) {
        self.statistics = statistics
        self.loop = loop
        self.configuration = configuration
    }

    static func start(acceptedFD fd: Int32, loop: EventLoop, configuration: Relay.Configuration,
                      statistics: Relay.Statistics) {
        statistics.accepted.increment()
        let pair = RelayPair(statistics: statistics, loop: loop, configuration: configuration)
        do {
            var serverContext: TLSContext?
            if case .tlsServer(let provider) = configuration.mode { serverContext = provider.current }
            let inbound = try Connection(loop: loop, acceptedFD: fd, tls: serverContext, limits: configuration.limits)
            pair.inbound = inbound
            inbound.delegate = pair
            statistics.active.increment()
            try inbound.start()
            // A TLS server side dials the target only once the client has proved who it
            // is (connectionDidBecomeActive); a plain side dials at once to save a round trip.
            if serverContext == nil { try pair.dial() }
        } catch {
            statistics.failed.increment()
            statistics.lastError.withLock { $0 = "\(error)" }
            if let inbound = pair.inbound { inbound.close(error) } else { Glibc.close(fd) }
        }
    }

    private func dial() throws {
        var clientContext: TLSContext?
        var serverName: String?
        if case .tlsClient(let provider, let name) = configuration.mode {
            clientContext = provider.current
            serverName = name ?? configuration.target.host
        }
        let outbound = try Connection(
            loop: loop, connectTo: configuration.target, tls: clientContext, serverName: serverName,
            limits: configuration.limits)
        self.outbound = outbound
        outbound.delegate = self
        try outbound.start()
    }

    private func other(_ c: Connection) -> Connection? { c === inbound ? outbound : inbound }

    func connectionDidBecomeActive(_ connection: Connection) {
        guard connection === inbound, outbound == nil else { return }
        do { try dial() } catch { connection.close(error) }
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard let peer = other(connection), !peer.isClosed else { return }
        peer.write(bytes)
        statistics.maxPendingBytes.raise(to: peer.pendingBytes)
        if !peer.isWritable { connection.pauseReading() }
    }

    func connectionDidReadEOF(_ connection: Connection) {
        other(connection)?.shutdownWrite()
    }

    func connectionDidDrain(_ connection: Connection) {
        other(connection)?.resumeReading()
    }

    func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
        if let error {
            statistics.failed.increment()
            statistics.lastError.withLock { $0 = "\(error)" }
            other(connection)?.close(error)
        }
        let bothClosed = (inbound?.isClosed ?? true) && (outbound?.isClosed ?? true)
        if bothClosed && inbound != nil {
            statistics.active.decrement()
            inbound = nil
            outbound = nil
        }
    }
}

/// A closure run on a loop thread while the calling thread waits for its result.
// Safe: `body` runs once on the loop; `result` is written before `done` is signalled
// and read by the waiting thread only after it.
private final class BlockingCall<T>: @unchecked Sendable {
    private let body: () throws -> T
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping () throws -> T) { self.body = body }

    func run() {
        result = Result { try body() }
        done.signal()
    }

    func wait() throws -> T {
        done.wait()
        return try result!.get()
    }
}
