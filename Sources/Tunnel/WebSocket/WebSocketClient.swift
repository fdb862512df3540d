/// Opens WebSockets as a client: TCP connect, TLS (mutual when the context carries a
/// certificate), the HTTP/1.1 upgrade request, the 101 checked (RFC 6455 §4.1), then a
/// `WebSocketChannel` on the same connection. Non-blocking, on an event loop.
///
/// Through an HTTP CONNECT proxy: open the tunnel first (`HTTPConnectProxy.open`,
/// blocking, off the loop), then hand its socket to `connect(loop:connectedFD:…)`, which
/// starts TLS on it.
public enum WebSocketClient {
    /// Called once, on `loop`, with the open channel (set its callbacks here: bytes that
    /// arrived with the 101 are decoded at the end of this event) or why it failed.
    public typealias Completion = @Sendable (Result<WebSocketChannel, WebSocketError>) -> Void

    /// Connects to `address` and upgrades `path` to a WebSocket. Safe from any thread
    /// (off the loop it hops there first); `completion` always runs on `loop`, later.
    ///
    /// - `tls`: a client context (nil for plain TCP); `serverName` is checked against the
    ///   server certificate's SANs and sent as SNI (default: the address's host).
    /// - `headers`: extra request fields (an `Authorization`, say); they cannot replace
    ///   the handshake's own fields.
    /// - `protocol`: the subprotocol to offer; the server must select exactly it.
    /// - Deadlines: connect + TLS within `configuration.connectionLimits.handshakeTimeoutNanos`,
    ///   then the 101 within `configuration.upgradeTimeoutNanos` (`.timeout`).
    public static func connect(
        loop: EventLoop, address: SocketAddress, tls: TLSContext?, serverName: String? = nil, path: String = "/",
        headers: HTTPHeaders = [:], protocol offered: String? = nil, configuration: WebSocketConfiguration = .init(),
        completion: @escaping Completion
    ) {
        guard loop.inEventLoop else {
            loop.execute {
                connect(loop: loop, address: address, tls: tls, serverName: serverName, path: path, headers: headers,
                        protocol: offered, configuration: configuration, completion: completion)
            }
            return
        }
        let host = serverName ?? address.host
        let hostField = (host.contains(":") ? "[\(host)]" : host) + ":\(address.port)"
        let key = WebSocketHandshake.makeKey()
        let request = WebSocketHandshake.clientRequest(
            host: hostField, path: path, key: key, protocol: offered, headers: headers)
        let connection: Connection
        do {
            connection = try Connection(
                loop: loop, connectTo: address, tls: tls, serverName: host, limits: configuration.connectionLimits)
        } catch {
            let failure = WebSocketClientUpgrade.map(error, peer: address.description)
            loop.execute { completion(.failure(failure)) }
            return
        }
        upgrade(connection, request: request, key: key, offered: offered, peer: address.description,
                configuration: configuration, completion: completion)
    }

    /// Like `connect(loop:address:…)` on a socket already connected to the server (a
    /// CONNECT tunnel through a proxy): TLS, then the upgrade. `authority` is the
    /// server's `HOST:PORT` (the `Host` field; its host is the default `serverName`).
    /// Ownership of `fd` moves here; it is closed on failure.
    public static func connect(
        loop: EventLoop, connectedFD fd: Int32, authority: String, tls: TLSContext?, serverName: String? = nil,
        path: String = "/", headers: HTTPHeaders = [:], protocol offered: String? = nil,
        configuration: WebSocketConfiguration = .init(), completion: @escaping Completion
    ) {
        guard loop.inEventLoop else {
            loop.execute {
                connect(loop: loop, connectedFD: fd, authority: authority, tls: tls, serverName: serverName,
                        path: path, headers: headers, protocol: offered, configuration: configuration,
                        completion: completion)
            }
            return
        }
        let host = serverName ?? hostOf(authority)
        let key = WebSocketHandshake.makeKey()
        let request = WebSocketHandshake.clientRequest(
            host: authority, path: path, key: key, protocol: offered, headers: headers)
        let connection: Connection
        do {
            connection = try Connection(
                loop: loop, connectedFD: fd, tls: tls, serverName: host, limits: configuration.connectionLimits)
        } catch {
            let failure = WebSocketClientUpgrade.map(error, peer: authority)
            loop.execute { completion(.failure(failure)) }
            return
        }
        upgrade(connection, request: request, key: key, offered: offered, peer: authority,
                configuration: configuration, completion: completion)
    }

    /// `HOST` of `HOST:PORT` or `[V6]:PORT`.
    static func hostOf(_ authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<end])
        }
        guard let colon = authority.lastIndex(of: ":") else { return authority }
        return String(authority[..<colon])
    }

    private static func upgrade(
        _ connection: Connection, request: [UInt8], key: String, offered: String?, peer: String,
        configuration: WebSocketConfiguration, completion: @escaping Completion
    ) {
        let upgrade = WebSocketClientUpgrade(
            connection: connection, request: request, key: key, offered: offered, peer: peer,
            configuration: configuration, completion: completion)
        connection.delegate = upgrade
        do { try connection.start() } catch { connection.close(error) }
    }
}

/// The client's side of the handshake on one connection, until the 101 is checked.
/// Loop thread only. Invariant: `completion` is called exactly once (`finished`).
final class WebSocketClientUpgrade: ConnectionDelegate {
    private let connection: Connection
    private let request: [UInt8]
    private let key: String
    private let offered: String?
    private let peer: String
    private let configuration: WebSocketConfiguration
    private let completion: WebSocketClient.Completion
    /// The response head so far. Invariant: count <= responseHeadBytesMax + one read.
    private var head: [UInt8] = []
    private var timer: TimerHandle?
    private var finished = false

    init(connection: Connection, request: [UInt8], key: String, offered: String?, peer: String,
         configuration: WebSocketConfiguration, completion: @escaping WebSocketClient.Completion) {
        self.connection = connection
        self.request = request
        self.key = key
        self.offered = offered
        self.peer = peer
        self.configuration = configuration
        self.completion = completion
    }

    func connectionDidBecomeActive(_ connection: Connection) {
        request.withUnsafeBytes { connection.write($0) }
        let timeout = configuration.upgradeTimeoutNanos
        let peer = peer
        timer = connection.loop.schedule(afterNanos: timeout) { [weak self] in
            self?.fail(WebSocketError(.timeout, "\(peer) did not answer the WebSocket upgrade within \(timeout / 1_000_000) ms"))
        }
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard !finished else { return }
        let scanFrom = max(0, head.count - 3)
        head.append(contentsOf: bytes)
        guard let end = WebSocketResponseHead.endIndex(in: head, searchingFrom: scanFrom) else {
            if head.count > configuration.responseHeadBytesMax {
                fail(WebSocketError(.badResponse, "WebSocket upgrade response from \(peer) has a head over \(configuration.responseHeadBytesMax) bytes"))
            }
            return
        }
        guard end <= configuration.responseHeadBytesMax, let parsed = WebSocketResponseHead.parse(head[..<end]) else {
            return fail(WebSocketError(.badResponse, "WebSocket upgrade response from \(peer) is not an HTTP/1.1 response head"))
        }
        if var error = WebSocketHandshake.checkResponse(parsed, key: key, protocol: offered, peer: peer) {
            let body = String(decoding: head[end...].prefix(200), as: UTF8.self)
            if error.code == .refused && !body.isEmpty { error.message += ": \(body)" }
            return fail(error)
        }
        finished = true
        timer?.cancel()
        let channel = WebSocketChannel(
            connection: connection, side: .client, configuration: configuration, subprotocol: offered,
            remoteAddress: peer)
        completion(.success(channel))
        channel.start(buffered: Array(head[end...]))
    }

    func connectionDidReadEOF(_ connection: Connection) {
        fail(WebSocketError(.connect, "\(peer) closed the connection before answering the WebSocket upgrade"))
    }

    func connectionDidDrain(_ connection: Connection) {}

    func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
        fail(error.map { Self.map($0, peer: peer) }
            ?? WebSocketError(.connect, "connection to \(peer) closed before the WebSocket upgrade"))
    }

    private func fail(_ error: WebSocketError) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        connection.close()
        completion(.failure(error))
    }

    /// A connection failure as a `WebSocketError`: timeouts, TLS and the rest.
    static func map(_ error: any Error, peer: String) -> WebSocketError {
        if let error = error as? WebSocketError { return error }
        if let error = error as? TLSError { return WebSocketError(.tls, "TLS with \(peer): \(error)") }
        if let error = error as? SocketError, error.code == .timeout {
            return WebSocketError(.timeout, "connecting to \(peer): \(error)")
        }
        return WebSocketError(.connect, "connecting to \(peer): \(error)")
    }
}
