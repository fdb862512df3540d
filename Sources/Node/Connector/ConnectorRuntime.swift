import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// A running connector: holds one mutual-TLS WebSocket session to a node of its tunnel,
/// carries the streams the node opens to the mapped targets (and only those), and
/// reconnects with jittered exponential backoff to any node it knows. A session the
/// cluster ends because the tunnel is closed or the connector revoked is final: the
/// connector says why and stops.
final class ConnectorRuntime: @unchecked Sendable {
    let identity: ConnectorIdentity
    let stateDir: String
    let log: NodeLog
    let group: EventLoopGroup
    /// The client context new connections take; renewal swaps it (live sessions keep theirs).
    let tls: TLSContextProvider
    /// Certificate renewal and trust-bundle pickup (ConnectorRenewal.swift).
    let renewal: ConnectorRenewal
    let state = Mutex(State())
    private let finished = Semaphore()
    /// What this connector may carry, and its own listeners (publish, remote forwards).
    let mappings: ConnectorMappings
    /// The HTTP CONNECT egress proxy every connection to the cluster goes through.
    let proxy: HTTPConnectProxy?

    struct State {
        var bridge: MuxBridge?
        /// Counts sessions: a bridge's callbacks act only while it is the current one.
        var generation = 0
        /// Sessions told to go away (GOAWAY), by generation: their live streams run on.
        var retiring: [Int: MuxBridge] = [:]
        /// Member API addresses learned from the cluster (`/v1/connect/ID/route`).
        var learned: [String] = []
        var attempt = 0
        var nodeIndex = 0
        var stopped = false
        var finalReason: String?
        var backoff = ReconnectBackoff(initialNanos: 100_000_000, maxNanos: 10_000_000_000)
    }

    /// - `bindHost`: where publish mappings' and remote forwards' listeners bind.
    /// - `proxy`: an HTTP CONNECT proxy for every connection to the cluster.
    init(identity: ConnectorIdentity, stateDir: String, log: NodeLog, bindHost: String = "127.0.0.1",
         proxy: HTTPConnectProxy? = nil, busyPollMicros: Int = EventLoop.defaultBusyPollMicros) throws {
        self.identity = identity
        self.stateDir = stateDir
        self.log = log
        self.proxy = proxy
        group = try EventLoopGroup(loopCount: EventLoopGroup.defaultLoopCount, busyPollMicros: busyPollMicros)
        let certificate = try Certificate(pem: try PKIFile.readText(ConnectorIdentity.paths(stateDir).certificate))
        if let expired = ConnectorRenewal.expiredMessage(certificate, now: Int64(Date().timeIntervalSince1970)) {
            throw CommandError(expired)
        }
        tls = TLSContextProvider(try TLSContext(try identity.tls(stateDir), side: .client))
        renewal = try ConnectorRenewal(identity: identity, stateDir: stateDir, log: log, tls: tls, proxy: proxy)
        mappings = ConnectorMappings(
            tunnelId: identity.tunnelId, bindHost: bindHost, proxy: proxy, tls: tls, group: group, log: log)
    }

    /// Connects and keeps connecting until `stop()` or a final refusal; returns the reason.
    func run() -> String {
        renewal.start()
        dial()
        finished.wait()
        return state.withLock { $0.finalReason ?? "stopped" }
    }

    func stop(reason: String = "stopped") {
        let bridge = state.withLock { s -> MuxBridge? in
            guard !s.stopped else { return nil }
            s.stopped = true
            s.finalReason = reason
            return s.bridge
        }
        renewal.stop()
        bridge?.goAway(reason: reason)
        bridge?.close(reason: reason)
        mappings.stop()
        for old in state.withLock({ Array($0.retiring.values) }) { old.close(reason: reason) }
        finished.signal()
    }

    /// One try at a session (ConnectorRuntime+Homing.swift): `nil` takes the next known
    /// node; a redirect or a re-home names the address.
    func dial(_ attempt: DialAttempt? = nil) {
        let (rotation, stopped) = state.withLock { s -> (String, Bool) in
            let nodes = knownNodes(s)
            return (nodes[s.nodeIndex % max(1, nodes.count)], s.stopped)
        }
        guard !stopped else { return }
        let attempt = attempt ?? DialAttempt(address: rotation)
        let address = attempt.address
        if let expired = ConnectorRenewal.expiredMessage(renewal.certificate, now: Int64(Date().timeIntervalSince1970)) {
            return fail(expired, final: true)
        }
        guard let parsed = try? SocketAddress(parsing: address) else {
            return fail("bad node address \(address)", final: false)
        }
        // Refresh what may be dialled before the session starts (defence in depth).
        do { try mappings.refresh(from: address) } catch {
            if Self.isFinal("\(error)") { return fail("\(address): \(error)", final: true) }
            return retry(after: attempt, "\(address): \(error)")
        }
        let loop = group.next()
        let completion: WebSocketClient.Completion = { [self] result in
            switch result {
            case .failure(let error):
                if let next = redirected(error, from: attempt) {
                    return DispatchQueue.global().async { [self] in dial(next) }
                }
                if Self.isFinal("\(error)") { return fail("\(address): \(error)", final: true) }
                retry(after: attempt, "\(address): \(error)")
            case .success(let channel):
                attach(channel, address: address)
            }
        }
        let path = "/v1/connect/\(identity.tunnelId)/session" + (attempt.stay ? "?stay=1" : "")
        guard let proxy else {
            return WebSocketClient.connect(
                loop: loop, address: parsed, tls: tls.current, serverName: HostPort.host(of: address), path: path,
                protocol: WebSocketHandshake.muxProtocol, completion: completion)
        }
        // Through the proxy: CONNECT first (blocking, on this dialling thread), then TLS.
        let fd: Int32
        do { fd = try proxy.open(target: address, timeoutMillis: 10_000) } catch {
            return retry(after: attempt, "\(address) via \(proxy): \(error)")
        }
        WebSocketClient.connect(
            loop: loop, connectedFD: fd, authority: address, tls: tls.current, serverName: HostPort.host(of: address),
            path: path, protocol: WebSocketHandshake.muxProtocol, completion: completion)
    }

    private func attach(_ channel: WebSocketChannel, address: String) {
        let generation = state.withLock { s -> Int in
            s.generation += 1
            return s.generation
        }
        let bridge = MuxBridge(
            channel: channel, configuration: TunnelMux.configuration(.client),
            onOpen: { [self] descriptor in decide(descriptor) },
            onStreamEvent: { [log] event in log.debug("stream", ["event": "\(event)"]) },
            onClose: { [self] reason in sessionEnded(generation, address: address, reason: reason) })
        bridge.onPeerGoAway = { [self] code, reason in
            if code == .noError { rehome(generation, reason: reason) }
        }
        state.withLock { s in
            s.bridge = bridge
            s.backoff.reset()
        }
        mappings.sessionUp(bridge, node: address)
        learnRoute(address)
        // Heartbeat: a WebSocket ping every 20 s keeps an idle session well inside the
        // connection's no-traffic timeout (300 s) and notices a dead path.
        var heartbeat: TimerHandle?
        heartbeat = channel.loop.scheduleRepeating(everyNanos: 20_000_000_000) { [weak channel] in
            guard let channel, channel.isOpen else {
                heartbeat?.cancel()
                return
            }
            _ = channel.ping()
        }
        log.info("session up", ["node": address, "tunnel": identity.tunnelId, "connector": identity.connectorId])
    }

    /// The node opened a stream: dial its target only if the cluster's configuration
    /// maps it (an expose mapping, or a local forward inside its endpoint's scope).
    func decide(_ bytes: [UInt8]) -> MuxOpenDecision { mappings.decide(bytes) }

    /// The cluster's words for "do not come back".
    static func isFinal(_ reason: String) -> Bool {
        reason.contains("is closed") || reason.contains("revoked") || reason.contains("tunnel_closed")
            || reason.contains("certificate expired") || reason.contains("needs a new connect URL")
    }

    func fail(_ why: String, final: Bool) {
        if final {
            log.error("stopping: \(why)")
            stop(reason: why)
            return
        }
        let delay = state.withLock { s -> UInt64? in
            guard !s.stopped else { return nil }
            s.attempt += 1
            s.nodeIndex += 1
            return s.backoff.nextDelayNanos(unit: Double.random(in: 0...1))
        }
        guard let delay else { return }
        log.warn("session failed, retrying", ["error": why, "inMillis": "\(delay / 1_000_000)"])
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay))) { [self] in dial() }
    }
}
