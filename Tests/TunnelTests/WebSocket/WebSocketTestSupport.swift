#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import Tunnel

/// What one WebSocket endpoint saw, written on its loop, read from the test thread.
final class WSLog: Sendable {
    struct State {
        var messages: [[UInt8]] = []
        var close: (code: WebSocketCloseCode, reason: String)?
        var rtts: [UInt64] = []
        var drains = 0
        var maxPendingBytes = 0
    }

    let state = Mutex(State())

    var messageCount: Int { state.withLock { $0.messages.count } }
    var messages: [[UInt8]] { state.withLock { $0.messages } }
    var close: (code: WebSocketCloseCode, reason: String)? { state.withLock { $0.close } }
    var rtts: [UInt64] { state.withLock { $0.rtts } }
}

/// A loop-confined channel handed to the test thread: every use goes through `run`,
/// which executes on the channel's loop and waits for the result.
// Safe: `channel` is dereferenced only inside closures run on `channel.loop` (see `run`,
// which checks it), never on the test thread.
final class WSHandle: @unchecked Sendable {
    private let channel: WebSocketChannel
    let loop: EventLoop
    let log = WSLog()

    init(_ channel: WebSocketChannel, echo: Bool = false) {
        self.channel = channel
        self.loop = channel.loop
        let log = log
        channel.onMessage = { [unowned channel] bytes in
            log.state.withLock { $0.messages.append(bytes) }
            if echo { channel.send(binary: bytes) }
        }
        channel.onClose = { code, reason in log.state.withLock { $0.close = (code, reason) } }
    }

    @discardableResult
    func run<T>(_ body: @escaping (WebSocketChannel) throws -> T) throws -> T {
        try Relay.onLoop(loop) { [self] in
            precondition(loop.inEventLoop)
            return try body(channel)
        }
    }
}

/// The accepted server-side channels of a rig.
final class WSAccepted: Sendable {
    let handles = Mutex<[WSHandle]>([])
    func add(_ handle: WSHandle) { handles.withLock { $0.append(handle) } }
    var count: Int { handles.withLock { $0.count } }
}

/// An HTTP server whose `/v1/connect` upgrades to a WebSocket (mutual TLS by default,
/// requiring `warren-mux.v1`), and a client event loop to dial it.
final class WSRig {
    let ca: CertificateAuthority
    let http: HTTPRig
    let clientGroup: EventLoopGroup
    let accepted = WSAccepted()
    let useTLS: Bool

    init(tls useTLS: Bool = true, serverConfiguration: WebSocketConfiguration = .init(), serverEcho: Bool = false,
         connectionLimits: ConnectionLimits = .init()) throws {
        self.useTLS = useTLS
        ca = try makeTLSCA()
        let provider = useTLS
            ? TLSContextProvider(try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca, clientAuth: .required))
            : nil
        let accepted = accepted
        http = try HTTPRig(tls: provider, connectionLimits: connectionLimits, loops: 1) { request, responder in
            guard request.path == "/v1/connect" else {
                responder.respond(.text("no WebSocket here", status: .notFound))
                return
            }
            responder.upgradeToWebSocket(
                request, protocol: WebSocketHandshake.muxProtocol, configuration: serverConfiguration
            ) { channel in
                accepted.add(WSHandle(channel, echo: serverEcho))
            }
        }
        clientGroup = try EventLoopGroup(loopCount: 1)
    }

    var address: SocketAddress { try! SocketAddress(parsing: "127.0.0.1:\(http.server.port)") }

    func connectorIdentity() throws -> TLSIdentity {
        try issueIdentity(from: ca, name: "c1", role: .connector, dnsNames: [], ipAddresses: [])
    }

    /// Dials and waits for the outcome (bounded by the client's own deadlines).
    func dial(
        identity: TLSIdentity? = nil, path: String = "/v1/connect", protocol offered: String? = WebSocketHandshake.muxProtocol,
        configuration: WebSocketConfiguration = .init()
    ) throws -> Result<WSHandle, WebSocketError> {
        let tls = useTLS ? try clientContext(try identity ?? connectorIdentity(), trusting: ca) : nil
        let box = OutcomeBox()
        WebSocketClient.connect(
            loop: clientGroup.loops[0], address: address, tls: tls, path: path, protocol: offered,
            configuration: configuration
        ) { result in
            box.set(result.map { WSHandle($0) })
        }
        guard eventually(seconds: 20, { box.get() != nil }) else { throw WebSocketError(.timeout, "test: no outcome") }
        return box.get()!
    }

    /// Dials, expecting success, and waits for the server's side of the channel.
    func connect(identity: TLSIdentity? = nil, configuration: WebSocketConfiguration = .init()) throws
        -> (client: WSHandle, server: WSHandle)
    {
        let before = accepted.count
        let client = try dial(identity: identity, configuration: configuration).get()
        guard eventually({ accepted.count > before }) else { throw WebSocketError(.timeout, "test: no server channel") }
        return (client, accepted.handles.withLock { $0[before] })
    }

    func stop() {
        http.stop()
        clientGroup.shutdown()
    }
}

/// Carries a connect outcome from the client loop to the test thread.
final class OutcomeBox: Sendable {
    private let outcome = Mutex<Result<WSHandle, WebSocketError>?>(nil)
    func set(_ result: Result<WSHandle, WebSocketError>) { outcome.withLock { $0 = result } }
    func get() -> Result<WSHandle, WebSocketError>? { outcome.withLock { $0 } }
}

/// Message `index` of a numbered stream: 4 index bytes, then 0…299 pattern bytes.
func numberedMessage(_ index: Int) -> [UInt8] {
    let i = UInt32(index)
    return [UInt8(i >> 24), UInt8((i >> 16) & 0xFF), UInt8((i >> 8) & 0xFF), UInt8(i & 0xFF)]
        + pattern(index % 300, seed: UInt8(index & 0xFF))
}
