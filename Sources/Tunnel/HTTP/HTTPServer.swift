#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server on the I/O core, plain or TLS (optionally mutual), for the admin
/// API and the connectors' enrolment.
///
/// Threading: one listener per loop of `group` on the same port (SO_REUSEPORT); each
/// accepted connection lives on the loop that accepted it, and the handler is called on
/// that loop. The handler must not block the loop: slow work goes elsewhere and
/// completes the `HTTPResponder` from any thread. `stop()` and `statistics` are safe
/// from any thread except a loop thread of `group`.
///
/// Per connection: one request at a time. Bytes of a pipelined request wait in the
/// parser (reading is paused) until the previous response is written; responses go out
/// in request order. A malformed request is answered with its status (400, 413, 414,
/// 431, 501, 505) and `{"error":{"code":…,"message":…}}`, then the connection closes; so
/// does a request head not complete within `limits.headerTimeoutNanos` (408). A kept-alive
/// connection idle for `limits.idleTimeoutNanos` between requests is closed cleanly (TLS
/// close_notify, then FIN) without a response: nothing sent on it afterwards is read, so
/// a client may resend a request that met that close (see `HTTPServerConnection`).
///
/// Upgrade hand-off: `HTTPResponder.upgradeToWebSocket` (Sources/Tunnel/WebSocket)
/// writes the 101, marks the `HTTPServerConnection` upgraded (no more parsing, timers
/// cancelled), hands the bytes already read past the request head
/// (`HTTPRequestParser.takeUnparsedBytes()`) to a `WebSocketChannel` and makes it the
/// `Connection`'s delegate. The connection stays counted in `openConnections` until it
/// closes, and `stop()` closes it like any other.
public final class HTTPServer: Sendable {
    /// Called on the connection's loop for each complete request; must answer through
    /// the responder exactly once (now, or later from any thread).
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponder) -> Void

    /// Where to listen and what to allow.
    public struct Configuration: Sendable {
        /// Address to bind; port 0 picks a free port (read it from `HTTPServer.port`).
        public var listen: SocketAddress
        /// TLS for every accepted connection (the provider's current context, so a swap
        /// is a hot reload); nil serves plain HTTP.
        public var tls: TLSContextProvider?
        /// Request size limits and the header and idle timeouts.
        public var limits: HTTPLimits
        /// Watermarks, handshake timeout and the no-traffic timeout of each connection.
        public var connectionLimits: ConnectionLimits
        /// Which peers (by numeric host) are load balancers that start every connection
        /// with a PROXY protocol v2 header; their connections report the header's client
        /// address. A connection from such a peer without a valid header is closed. nil
        /// (the default) trusts no one: no header is ever read.
        public var proxyProtocolFrom: (@Sendable (String) -> Bool)?

        public init(
            listen: SocketAddress, tls: TLSContextProvider? = nil, limits: HTTPLimits = .init(),
            connectionLimits: ConnectionLimits = .init(), proxyProtocolFrom: (@Sendable (String) -> Bool)? = nil
        ) {
            self.listen = listen
            self.tls = tls
            self.limits = limits
            self.connectionLimits = connectionLimits
            self.proxyProtocolFrom = proxyProtocolFrom
        }
    }

    /// Counters readable from any thread.
    public final class Statistics: Sendable {
        /// Connections accepted since start.
        public let accepted = AtomicCounter()
        /// Connections open now.
        public let openConnections = AtomicCounter()
        /// Requests whose response (complete, or finished stream) was handed to the connection.
        public let requestsServed = AtomicCounter()
        /// Requests rejected by the parser (answered with 4xx/5xx and closed).
        public let rejectedRequests = AtomicCounter()
        /// Connections closed for not sending a request head in time (408).
        public let headerTimeouts = AtomicCounter()
        /// Connections from a trusted load balancer closed for a missing or bad PROXY header.
        public let proxyHeaderFailures = AtomicCounter()
        init() {}
    }

    public let configuration: Configuration
    public let statistics = Statistics()
    /// The bound port (the one picked when `listen` had port 0).
    public let port: UInt16
    private let group: EventLoopGroup
    // Safe: `loopStates` itself is immutable; element i is touched only on loops[i]'s
    // thread (each `HTTPServerLoop` checks it with `assertInEventLoop`).
    nonisolated(unsafe) private let loopStates: [HTTPServerLoop]

    /// Binds on every loop of `group` and starts serving. Throws `SocketError` when the
    /// address cannot be bound.
    public init(configuration: Configuration, group: EventLoopGroup, handler: @escaping Handler) throws {
        self.configuration = configuration
        self.group = group
        let shared = HTTPServerShared(configuration: configuration, statistics: statistics, handler: handler)
        let states = group.loops.map { HTTPServerLoop(loop: $0, shared: shared) }
        loopStates = states
        var address = configuration.listen
        var boundPort: UInt16 = 0
        for (i, loop) in group.loops.enumerated() {
            let local = try Relay.onLoop(loop) { [address] () throws -> SocketAddress? in
                try states[i].listen(on: address)
            }
            if i == 0, let local {
                // Port 0 picked a port: the other loops' listeners must share that one.
                boundPort = local.port
                address = local
            }
        }
        port = boundPort
    }

    /// The first step of a graceful stop, without waiting: stops accepting, closes idle
    /// connections cleanly (close_notify: their clients know nothing more was read), and
    /// marks the rest so each request in progress, or arriving on a connection already
    /// open, is answered with `Connection: close` and its connection then closed.
    /// Upgraded connections (WebSockets) are left to `stop`. Idempotent.
    public func beginGracefulStop() {
        for (i, loop) in group.loops.enumerated() {
            _ = try? Relay.onLoop(loop) { [loopStates] in loopStates[i].drain() }
        }
    }

    /// Stops accepting and closes every open connection. Call before shutting the group
    /// down. With `graceMillis` > 0 it stops gracefully first (`beginGracefulStop`) and
    /// waits — at most `graceMillis` — until no connection has a request in progress or a
    /// response still to flush. Whatever remains then, upgraded connections included, is
    /// closed at once (in-flight responses dropped, no close_notify), as `stop()` without
    /// grace does.
    public func stop(graceMillis: Int = 0) {
        if graceMillis > 0 {
            beginGracefulStop()
            let deadline = MonotonicClock.nowNanos() + UInt64(graceMillis) * 1_000_000
            while MonotonicClock.nowNanos() < deadline {
                let busy = group.loops.indices.reduce(0) { total, i in
                    total + ((try? Relay.onLoop(group.loops[i]) { [loopStates] in loopStates[i].busyCount }) ?? 0)
                }
                if busy == 0 { break }
                usleep(5_000)  // a bounded wait for requests in progress, checked on their loops
            }
        }
        for (i, loop) in group.loops.enumerated() {
            _ = try? Relay.onLoop(loop) { [loopStates] in loopStates[i].stop() }
        }
    }
}

/// What every connection of one server shares: immutable, so safe on any loop.
struct HTTPServerShared: Sendable {
    let configuration: HTTPServer.Configuration
    let statistics: HTTPServer.Statistics
    let handler: HTTPServer.Handler
}

/// One loop's listener and open connections. Loop thread only.
final class HTTPServerLoop {
    let loop: EventLoop
    let shared: HTTPServerShared
    private var listener: Listener?
    /// Invariant: holds exactly the connections of this loop that are not closed.
    private var connections: [ObjectIdentifier: HTTPServerConnection] = [:]

    init(loop: EventLoop, shared: HTTPServerShared) {
        self.loop = loop
        self.shared = shared
    }

    func listen(on address: SocketAddress) throws -> SocketAddress? {
        loop.assertInEventLoop()
        let listener = try Listener(loop: loop, address: address, reusePort: true) { [unowned self] fd in
            self.accept(fd)
        }
        self.listener = listener
        return listener.localAddress
    }

    private func accept(_ fd: Int32) {
        shared.statistics.accepted.increment()
        let peer = Self.peerAddress(fd)
        guard let trusted = shared.configuration.proxyProtocolFrom, trusted(ProxyProtocolV2.host(ofPeer: peer)) else {
            return serve(fd, remote: peer)
        }
        ProxyPreambleReader.read(
            fd: fd, loop: loop, timeoutNanos: shared.configuration.connectionLimits.handshakeTimeoutNanos
        ) { [weak self] result in
            guard let self else { _ = Glibc.close(fd); return }
            switch result {
            case .success(let client): serve(fd, remote: client ?? peer)
            case .failure:
                shared.statistics.proxyHeaderFailures.increment()
                Glibc.close(fd)
            }
        }
    }

    private func serve(_ fd: Int32, remote: String) {
        let tls = shared.configuration.tls?.current
        let connection: Connection
        do {
            connection = try Connection(
                loop: loop, acceptedFD: fd, tls: tls, limits: shared.configuration.connectionLimits)
        } catch {
            Glibc.close(fd)  // no TLS engine: nothing can be answered
            return
        }
        let server = HTTPServerConnection(
            connection: connection, shared: shared, remoteAddress: remote,
            onClose: { [weak self] closed in self?.connections[ObjectIdentifier(closed)] = nil })
        connections[ObjectIdentifier(server)] = server
        shared.statistics.openConnections.increment()
        do { try server.start() } catch { connection.close(error) }  // epoll refused: closes the fd
    }

    func stop() {
        loop.assertInEventLoop()
        listener?.close()
        listener = nil
        for connection in connections.values { connection.closeNow() }
    }

    /// Graceful stop, first step: no new connections; each open one drains.
    func drain() {
        loop.assertInEventLoop()
        listener?.close()
        listener = nil
        for connection in connections.values { connection.drain() }
    }

    /// Connections a graceful stop still waits for (`HTTPServerConnection.isBusy`).
    var busyCount: Int {
        loop.assertInEventLoop()
        return connections.values.reduce(0) { $0 + ($1.isBusy ? 1 : 0) }
    }

    /// `HOST:PORT` of the peer of an accepted socket ("" when the kernel cannot say).
    static func peerAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return "" }
        // Safe: getpeername wrote `length` bytes of a sockaddr into `storage`.
        return withUnsafePointer(to: &storage) {
            SocketAddress(storage: UnsafeRawPointer($0), length: Int(length)).description
        }
    }
}
