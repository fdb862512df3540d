import Dispatch
import Foundation
internal import Synchronization
import Tunnel

#if canImport(Glibc)
import Glibc
#endif

/// The connector's view of what it may carry, kept current, and the listeners that view
/// asks for on the connector's host:
///
/// - `decide` checks every stream the node opens (expose mappings, local forwards)
///   against the configuration the cluster sent — nothing else is ever dialled;
/// - publish mappings and remote forwards each get a listener on `bindHost` whose
///   clients are carried to the node as streams naming the mapping or rule (the node
///   checks them again and dials the gateway-side target);
/// - a watch thread long-polls `GET /v1/connect/:id/config?after=VERSION` on the node
///   of the current session, so a mapping or rule added or removed while running
///   starts or stops its listener within one round trip.
///
/// Threading: any thread; state behind one lock. Listeners start and stop on the watch
/// thread or the dialling thread, never on an event loop (`StreamListener` waits for them).
final class ConnectorMappings: @unchecked Sendable {
    private struct State {
        var config: ConnectorConfig?
        var bridge: MuxBridge?
        /// The node address of the live session (the watch asks it).
        var node: String?
        var listeners: [String: (spec: ConnectorConfig.Listener, listener: StreamListener)] = [:]
        var watching = false
        var stopped = false
    }

    private let state = Mutex(State())
    /// Serialises listener changes (the dialling and watch threads may both apply).
    private let applying = NSLock()
    let tunnelId: String
    let bindHost: String
    let proxy: HTTPConnectProxy?
    /// The connector's client context; renewal swaps it (ConnectorRenewal.swift).
    private let tls: TLSContextProvider
    private let group: EventLoopGroup
    private let log: NodeLog

    /// Longest the node parks a config request, and the client's timeout around it.
    static let watchWaitSeconds = 25
    static let watchTimeoutMillis = 35_000

    init(tunnelId: String, bindHost: String, proxy: HTTPConnectProxy?, tls: TLSContextProvider, group: EventLoopGroup,
         log: NodeLog) {
        self.tunnelId = tunnelId
        self.bindHost = bindHost
        self.proxy = proxy
        self.tls = tls
        self.group = group
        self.log = log
    }

    /// The configuration now (nil before the first fetch).
    var config: ConnectorConfig? { state.withLock { $0.config } }

    /// The live session's bridge (nil while disconnected).
    var bridge: MuxBridge? { state.withLock { $0.bridge } }

    /// Ports the connector's listeners are bound to, by `kind/id` key.
    var listeningPorts: [String: UInt16] {
        state.withLock { s in s.listeners.mapValues { $0.listener.port } }
    }

    // MARK: streams the node opens

    /// The node opened a stream: dial its target only if the configuration maps it.
    func decide(_ bytes: [UInt8]) -> MuxOpenDecision {
        guard let descriptor = StreamDescriptor.decode(bytes) else {
            return .refuse(code: MuxErrorCode(0x100), reason: "not a stream of this tunnel")
        }
        guard let config = config else {
            return .refuse(code: MuxErrorCode(0x101), reason: "not mapped on this connector (no configuration yet)")
        }
        switch config.targetForNodeStream(descriptor, tunnelId: tunnelId) {
        case .failure(let refusal):
            log.warn("refused a stream for an unmapped target", ["mapping": descriptor.mapping, "reason": refusal.reason])
            let code = descriptor.tunnel == tunnelId ? MuxErrorCode(0x101) : MuxErrorCode(0x100)
            return .refuse(code: code, reason: refusal.reason)
        case .success(let target):
            guard let address = Self.address(target) else {
                return .refuse(code: .connectFailed, reason: "cannot resolve \(target)")
            }
            return .dial(address)
        }
    }

    // MARK: fetching the configuration

    /// An HTTP client to `node` with the connector certificate (through the proxy, if any).
    func client(_ node: String, timeoutMillis: Int) throws -> HTTPClient {
        let parsed = try SocketAddress(parsing: node)
        let client = HTTPClient(
            host: HostPort.host(of: node), port: parsed.port, tls: tls.current, serverName: HostPort.host(of: node),
            timeoutMillis: timeoutMillis)
        client.proxy = proxy
        return client
    }

    /// `GET /v1/connect/TUNNEL/config` now, then applies it (listeners included).
    func refresh(from node: String) throws {
        let client = try client(node, timeoutMillis: 5000)
        defer { client.close() }
        apply(try fetch(client, after: nil))
    }

    private func fetch(_ client: HTTPClient, after: String?) throws -> ConnectorConfig {
        var path = "/v1/connect/\(tunnelId)/config"
        if let after { path += "?after=\(after)&waitSeconds=\(Self.watchWaitSeconds)" }
        let response = try client.send(HTTPClientRequest(path: path))
        guard response.status == .ok else {
            let body = String(decoding: response.body.prefix(300), as: UTF8.self)
            throw CommandError("config: \(response.status) \(body)")
        }
        guard let config = CanonicalJSON.decode(ConnectorConfig.self, from: response.body) else {
            throw CommandError("config: the node's answer is not a connector configuration")
        }
        return config
    }

    /// Takes `config` and brings the listeners in line with it (also retries listeners
    /// that failed to bind before).
    func apply(_ config: ConnectorConfig) {
        applying.lock()
        defer { applying.unlock() }
        let wanted = Dictionary(config.listeners(tunnelId: tunnelId).map { ($0.key, $0) }) { first, _ in first }
        let (toStop, stopped) = state.withLock { s -> ([StreamListener], Bool) in
            let changed = s.config?.version != config.version
            s.config = config
            if changed { log.info("configuration", ["version": config.version, "mappings": "\(config.mappings.count)", "forwards": "\(config.forwards.count)"]) }
            var stop: [StreamListener] = []
            for (key, entry) in s.listeners where wanted[key] != entry.spec || s.stopped {
                stop.append(entry.listener)
                s.listeners[key] = nil
            }
            return (stop, s.stopped)
        }
        for listener in toStop { listener.stop() }
        guard !stopped else { return }
        let running = state.withLock { Set($0.listeners.keys) }
        for spec in wanted.values.sorted(by: { $0.key < $1.key }) where !running.contains(spec.key) {
            start(spec)
        }
    }

    private func start(_ spec: ConnectorConfig.Listener) {
        let host = bindHost.contains(":") ? "[\(bindHost)]" : bindHost
        do {
            let address = try SocketAddress(parsing: "\(host):\(spec.port)")
            let listener = try StreamListener(address: address, group: group) { [weak self] fd, remote in
                self?.accepted(fd: fd, remote: remote, spec: spec)
            }
            state.withLock { $0.listeners[spec.key] = (spec, listener) }
            log.info("listener up", ["listener": spec.key, "listen": "\(address)", "target": spec.descriptor.target])
        } catch {
            log.warn("listener failed", ["listener": spec.key, "port": "\(spec.port)", "error": "\(error)"])
        }
    }

    /// A client reached a publish mapping's or remote forward's listener: carried to the
    /// node over the live session, or closed when there is none or the source is not allowed.
    private func accepted(fd: Int32, remote: String, spec: ConnectorConfig.Listener) {
        if !spec.allow.isEmpty && !TunnelHub.source(remote, isIn: spec.allow) {
            Glibc.close(fd)
            log.info("connection refused: source not allowed", ["listener": spec.key, "source": remote])
            return
        }
        guard let bridge = state.withLock({ $0.bridge }) else {
            Glibc.close(fd)
            log.info("connection refused: no session to the cluster", ["listener": spec.key, "source": remote])
            return
        }
        bridge.carry(acceptedFD: fd, descriptor: spec.descriptor.encoded, remoteAddress: remote)
    }

    // MARK: session lifecycle

    /// A session is up on `node`: carry listener clients over `bridge`; start watching.
    func sessionUp(_ bridge: MuxBridge, node: String) {
        let startWatch = state.withLock { s -> Bool in
            s.bridge = bridge
            s.node = node
            defer { s.watching = true }
            return !s.watching && !s.stopped
        }
        if startWatch { Thread.detachNewThread { [self] in watch() } }
    }

    func sessionDown() {
        state.withLock { s in
            s.bridge = nil
            s.node = nil
        }
    }

    /// Stops every listener and the watch (it exits after its current request). Safe
    /// from any thread, an event loop included: the listeners are stopped on another
    /// thread, because `StreamListener.stop` waits for every loop of the group (a final
    /// session close calls this from its bridge's loop).
    func stop() {
        let listeners = state.withLock { s -> [StreamListener] in
            s.stopped = true
            s.bridge = nil
            defer { s.listeners.removeAll() }
            return s.listeners.values.map(\.listener)
        }
        guard !listeners.isEmpty else { return }
        DispatchQueue.global().async {
            for listener in listeners { listener.stop() }
        }
    }

    /// The long poll: while not stopped, ask the session's node for the next change.
    private func watch() {
        var client: (node: String, http: HTTPClient)?
        while true {
            let (node, version, stopped) = state.withLock { ($0.node, $0.config?.version, $0.stopped) }
            if stopped { break }
            guard let node else {
                Thread.sleep(forTimeInterval: 0.2)
                continue
            }
            do {
                if client?.node != node {
                    client?.http.close()
                    client = (node, try self.client(node, timeoutMillis: Self.watchTimeoutMillis))
                }
                let config = try fetch(client!.http, after: version ?? "")
                apply(config)
            } catch {
                client?.http.close()
                client = nil
                if ConnectorRuntime.isFinal("\(error)") {
                    log.warn("configuration watch ended", ["error": "\(error)"])
                    break
                }
                log.debug("configuration watch failed, retrying", ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
        client?.http.close()
        state.withLock { $0.watching = false }
    }

    // MARK: target addresses

    /// Targets whose host is an IP literal, parsed once (getaddrinfo per stream open was
    /// a visible share of a session's CPU). Names are resolved every time: DNS may change.
    private static let literalTargets = Mutex<[String: SocketAddress]>([:])

    static func address(_ target: String) -> SocketAddress? {
        if let known = literalTargets.withLock({ $0[target] }) { return known }
        guard let address = try? SocketAddress(parsing: target) else { return nil }
        if IPAddress(HostPort.host(of: target)) != nil {
            literalTargets.withLock { cache in
                if cache.count >= 1024 { cache.removeAll() }
                cache[target] = address
            }
        }
        return address
    }
}
