#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
@testable import Tunnel

/// One end of the rig: its bridge (made on its loop) and what it reported.
final class BridgeSide: Sendable {
    let bridgeRef = Mutex<MuxBridge?>(nil)
    let events = Mutex<[MuxBridgeEvent]>([])
    let closeReason = Mutex<String?>(nil)

    var bridge: MuxBridge? { bridgeRef.withLock { $0 } }
    var allEvents: [MuxBridgeEvent] { events.withLock { $0 } }
    var closed: String? { closeReason.withLock { $0 } }

    var closedEvents: [(stream: UInt32, bytesIn: UInt64, bytesOut: UInt64, reason: String)] {
        allEvents.compactMap {
            if case .closed(let s, let i, let o, let r) = $0 { return (s, i, o, r) }
            return nil
        }
    }
    var refusedReasons: [String] {
        allEvents.compactMap {
            if case .refused(_, let r) = $0 { return r }
            return nil
        }
    }

    func make(_ channel: WebSocketChannel, _ configuration: MuxConfiguration, _ limits: ConnectionLimits,
              readBytes: Int = MuxBridge.defaultStreamReadBytesMax,
              acceptHoldNanos: UInt64 = MuxBridge.defaultAcceptHoldNanos,
              onOpen: @escaping ([UInt8]) -> MuxOpenDecision) {
        let bridge = MuxBridge(
            channel: channel, configuration: configuration, streamLimits: limits, streamReadBytesMax: readBytes,
            acceptHoldNanos: acceptHoldNanos,
            onOpen: onOpen,
            onStreamEvent: { [self] event in events.withLock { $0.append(event) } },
            onClose: { [self] reason in closeReason.withLock { $0 = reason } })
        bridgeRef.withLock { $0 = bridge }
    }

    /// Runs `body` on the bridge's loop and waits for the result.
    func run<T>(_ body: @escaping (MuxBridge) -> T) throws -> T {
        let bridge = bridge!
        return try Relay.onLoop(bridge.loop) { body(bridge) }
    }
}

/// A TCP client → StreamListener → bridge A (node, WebSocket server) → mutual TLS
/// WebSocket → bridge B (connector, WebSocket client) → the target its descriptor names
/// (an echo server by default). Descriptors are "HOST:PORT", or "refuse".
final class BridgeRig {
    let ca: CertificateAuthority
    let http: HTTPRig
    let clientGroup: EventLoopGroup
    let edgeGroup: EventLoopGroup
    let echo: EchoServer
    let listener: StreamListener
    let node = BridgeSide()
    let connector = BridgeSide()
    /// What the listener puts in each OPEN.
    let descriptor = TextBox()

    /// `headroom`: the mux output headroom of both ends; 14 (the default) sends each
    /// flush in place with its WebSocket header, 0 copies it into a frame.
    init(
        window: Int = 256 * 1024, streamLimits: ConnectionLimits = .init(), tls: Bool = true,
        headroom: Int = WebSocketFrameEncoder.headerBytesMax, readBytes: Int = MuxBridge.defaultStreamReadBytesMax
    ) throws {
        raiseFileLimit()
        ca = try makeTLSCA()
        let provider = tls
            ? TLSContextProvider(try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca))
            : nil
        let node = node
        let nodeConfiguration = MuxConfiguration(role: .server, initialWindowBytes: window, outputHeadroomBytes: headroom)
        http = try HTTPRig(tls: provider, loops: 1) { request, responder in
            responder.upgradeToWebSocket(request, protocol: WebSocketHandshake.muxProtocol) { channel in
                node.make(channel, nodeConfiguration, streamLimits, readBytes: readBytes) { _ in
                    .refuse(code: .notPermitted, reason: "the node dials nothing in this rig")
                }
            }
        }
        clientGroup = try EventLoopGroup(loopCount: 1)
        edgeGroup = try EventLoopGroup(loopCount: 1)
        echo = try EchoServer(group: edgeGroup)
        descriptor.set("127.0.0.1:\(echo.port)")
        let descriptor = descriptor
        listener = try StreamListener(address: try SocketAddress(parsing: "127.0.0.1:0"), group: edgeGroup) {
            fd, remote in
            guard let bridge = node.bridge else {
                close(fd)
                return
            }
            bridge.carry(acceptedFD: fd, descriptor: Array(descriptor.get().utf8), remoteAddress: remote)
        }
        let clientTLS = tls
            ? try clientContext(
                try issueIdentity(from: ca, name: "c1", role: .connector, dnsNames: [], ipAddresses: []), trusting: ca)
            : nil
        let connector = connector
        let connectorConfiguration = MuxConfiguration(role: .client, initialWindowBytes: window, outputHeadroomBytes: headroom)
        WebSocketClient.connect(
            loop: clientGroup.loops[0], address: try SocketAddress(parsing: "127.0.0.1:\(http.server.port)"),
            tls: clientTLS, path: "/v1/connect", protocol: WebSocketHandshake.muxProtocol
        ) { result in
            guard case .success(let channel) = result else { return }
            connector.make(channel, connectorConfiguration, streamLimits, readBytes: readBytes) { descriptor in
                let text = String(decoding: descriptor, as: UTF8.self)
                if text == "refuse" { return .refuse(code: .notPermitted, reason: "no mapping allows it") }
                guard let address = try? SocketAddress(parsing: text) else {
                    return .refuse(code: .notPermitted, reason: "bad descriptor")
                }
                return .dial(address)
            }
        }
        guard eventually(seconds: 20, { node.bridge != nil && connector.bridge != nil }) else {
            throw SocketError(.timeout, "test: the bridge pair did not come up")
        }
    }

    /// Sends `bytes` of a seeded pattern through the listener to the echo target (the
    /// descriptor must name it) while reading the echo to EOF; true when all of it came
    /// back intact and the sender finished.
    func echoesIntact(bytes: Int, seed: UInt8) throws -> Bool {
        let client = try BlockingClient(port: listener.port)
        let payload = pattern(bytes, seed: seed)
        let fd = client.fd
        let sender = Background {
            sendAll(fd, payload)
            shutdown(fd, Int32(SHUT_WR))
        }
        let echoed = try client.drainToEOF()
        return sender.wait() && echoed.count == payload.count && echoed.sum == checksum(payload)
    }

    func stop() {
        listener.stop()
        echo.stop()
        http.stop()
        clientGroup.shutdown()
        edgeGroup.shutdown()
    }
}

/// A string shared between threads.
final class TextBox: Sendable {
    private let text = Mutex("")
    func set(_ value: String) { text.withLock { $0 = value } }
    func get() -> String { text.withLock { $0 } }
}

/// Sends all of `bytes` on a blocking socket; false if the socket failed first.
@discardableResult
func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { return false }
        sent += n
    }
    return true
}

/// The checksum `BlockingClient.drainToEOF` computes.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    var sum: UInt64 = 0
    for b in bytes { sum = sum &* 31 &+ UInt64(b) }
    return sum
}

/// Whether the peer ended the connection (EOF or reset) within the socket's timeout.
func seesEnd(_ client: BlockingClient) -> Bool {
    var byte: UInt8 = 0
    while true {
        let n = recv(client.fd, &byte, 1, 0)
        if n == 0 || (n < 0 && errno == ECONNRESET) { return true }
        if n < 0 { return false }
    }
}

/// Runs `body` on a background thread; `wait()` returns once it finished.
final class Background: Sendable {
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () -> Void) {
        let done = done
        DispatchQueue.global().async {
            body()
            done.signal()
        }
    }
    func wait(seconds: Int = 60) -> Bool { done.wait(timeout: .now() + .seconds(seconds)) == .success }
}
