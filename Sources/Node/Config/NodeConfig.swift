import Foundation
import Tunnel

/// One `warren node`'s configuration file (JSON), documented in `docs/CONFIG.md`.
///
/// Relative paths are relative to the file's folder; `--pki` and `--data-dir` override
/// the file so tests and the demo run the same configs in a scratch folder.
struct NodeConfig: Equatable {
    /// This node's id: the name given to `pki init --nodes`, also its certificate's role name.
    var id: String
    /// Folder holding `ca.pem`, `<id>.pem`, `<id>-key.pem` (and `ca-key.pem` to sign connectors).
    var pkiDir: String
    /// Where the write-ahead log and snapshots live.
    var dataDir: String
    /// HTTPS port: admin API, connector endpoint, health and metrics.
    var apiListen: String
    /// Peer port: Raft and node-to-node traffic, mutual TLS with node certificates only.
    var peerListen: String
    /// Host on which mapping listeners of this node bind.
    var mappingHost: String
    /// The initial voters (bootstrap) and how to reach them.
    var members: [Member]
    /// True for a node that starts empty and waits to be added by `ctl members add`.
    var join: Bool
    var raft: RaftSettings
    /// Longest tunnel an operator may create.
    var maxTunnelSeconds: Int
    /// Event loop threads for the HTTPS port and mappings (0 = one per core).
    var loops: Int
    /// How long every event loop (and the Raft loop) polls before sleeping after it found
    /// work: `EventLoop.run()`. 0 turns busy polling off (less CPU, slower round trips).
    var busyPollMicros = EventLoop.defaultBusyPollMicros
    /// Lifetime of the connector certificates this node signs (`certificates.connectorLifetimeSeconds`).
    var connectorCertificateSeconds: Int = NodeConfig.connectorCertificateSecondsDefault

    /// Connector certificates live 24 h by default; connectors renew them at two thirds.
    static let connectorCertificateSecondsDefault = 24 * 3600
    /// Load balancers allowed to send a PROXY protocol v2 header (HAProxy `send-proxy-v2`)
    /// in front of connections to the HTTPS port and mapping listeners, so audit and
    /// allow-lists see the real client. Empty (the default) trusts no one.
    var proxyProtocolFrom: [IPNetwork] = []

    /// The check for the I/O core: whether connections from a numeric host must start
    /// with a PROXY v2 header; nil when no load balancer is trusted (nothing is checked).
    var trustedProxyCheck: (@Sendable (String) -> Bool)? {
        let networks = proxyProtocolFrom
        guard !networks.isEmpty else { return nil }
        return { host in
            guard let address = IPAddress(host) else { return false }
            return networks.contains { $0.contains(address) }
        }
    }

    struct Member: Equatable {
        var id: String
        var api: String
        var peer: String
        var mappingHost: String
    }

    struct RaftSettings: Equatable {
        var tickMillis = 10
        var electionTicks = 15
        var heartbeatTicks = 3
        var snapshotEveryEntries = 10_000
        /// A snapshot also waits until the log applied since the last one is this percentage
        /// of that snapshot's size (0: off): the cost of snapshots per write stays bounded
        /// as the state grows (`RaftDriverOptions.snapshotLogRatio`).
        var snapshotLogPercent = 100
    }

    /// Reads and checks `path`, then applies the command-line overrides.
    static func load(path: String, pkiOverride: String? = nil, dataDirOverride: String? = nil) throws -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError("cannot read config \(path)")
        }
        let folder = (absolute(path) as NSString).deletingLastPathComponent
        do {
            var config = try parse(data, relativeTo: folder)
            if let pkiOverride { config.pkiDir = absolute(pkiOverride) }
            if let dataDirOverride { config.dataDir = absolute(dataDirOverride) }
            return config
        } catch {
            throw CommandError("config \(path): \(error)")
        }
    }

    /// Parses a config's bytes; relative paths are resolved against `folder`.
    static func parse(_ data: Data, relativeTo folder: String) throws(ConfigError) -> NodeConfig {
        var top = try JSONFields.parse(data)
        let id = try top.requireString("id")
        try checkName(id, key: "id")
        let pki = resolve(try top.string("pki") ?? "pki", in: folder)
        let dataDir = resolve(try top.string("dataDir") ?? "data/\(id)", in: folder)

        guard var listen = try top.object("listen") else { throw ConfigError("listen", "is required") }
        let api = try listen.requireString("api")
        let peer = try listen.requireString("peer")
        try checkAddress(api, key: listen.keyPath("api"))
        try checkAddress(peer, key: listen.keyPath("peer"))
        try listen.finish()
        let mappingHost = try top.string("mappingHost") ?? "127.0.0.1"
        try checkHost(mappingHost, key: "mappingHost")

        var members: [Member] = []
        for var m in try top.objectList("members") ?? [] {
            let member = Member(
                id: try m.requireString("id"), api: try m.requireString("api"), peer: try m.requireString("peer"),
                mappingHost: try m.string("mappingHost") ?? "127.0.0.1")
            try checkName(member.id, key: m.keyPath("id"))
            try checkAddress(member.api, key: m.keyPath("api"))
            try checkAddress(member.peer, key: m.keyPath("peer"))
            try checkHost(member.mappingHost, key: m.keyPath("mappingHost"))
            try m.finish()
            if members.contains(where: { $0.id == member.id }) {
                throw ConfigError(m.keyPath("id"), "\(member.id) is listed twice")
            }
            members.append(member)
        }
        let join = try top.bool("join") ?? false
        if !join && !members.contains(where: { $0.id == id }) {
            throw ConfigError("members", "must list this node (\(id)) unless \"join\" is true")
        }
        let ids = Set(members.map { NodeIdentity.raftID($0.id) })
        if ids.count != members.count { throw ConfigError("members", "two ids hash to the same Raft id; rename one") }

        var raft = RaftSettings()
        if var r = try top.object("raft") {
            raft.tickMillis = try r.int("tickMillis", in: 1...1000) ?? raft.tickMillis
            raft.electionTicks = try r.int("electionTicks", in: 3...10_000) ?? raft.electionTicks
            raft.heartbeatTicks = try r.int("heartbeatTicks", in: 1...1000) ?? raft.heartbeatTicks
            raft.snapshotEveryEntries =
                try r.int("snapshotEveryEntries", in: 10...100_000_000) ?? raft.snapshotEveryEntries
            raft.snapshotLogPercent = try r.int("snapshotLogPercent", in: 0...10_000) ?? raft.snapshotLogPercent
            try r.finish()
            if raft.heartbeatTicks >= raft.electionTicks {
                throw ConfigError("raft.heartbeatTicks", "must be smaller than raft.electionTicks")
            }
        }
        var maxTunnelSeconds = 30 * 24 * 3600
        if var t = try top.object("tunnels") {
            if let hours = try t.int("maxDurationHours", in: 1...(24 * 365)) { maxTunnelSeconds = hours * 3600 }
            try t.finish()
        }
        let loops = try top.int("loops", in: 0...256) ?? 0
        let busyPollMicros = try top.int("busyPollMicros", in: 0...10_000) ?? EventLoop.defaultBusyPollMicros
        var connectorSeconds = connectorCertificateSecondsDefault
        if var c = try top.object("certificates") {
            connectorSeconds = try c.int("connectorLifetimeSeconds", in: 3...(90 * 24 * 3600)) ?? connectorSeconds
            try c.finish()
        }
        var proxies: [IPNetwork] = []
        for text in try top.stringList("proxyProtocolFrom") ?? [] {
            guard let network = IPNetwork(text) else {
                throw ConfigError("proxyProtocolFrom", "\"\(text)\" is not an IP address or CIDR (e.g. 10.0.0.5/32)")
            }
            proxies.append(network)
        }
        try top.finish()
        var config = NodeConfig(
            id: id, pkiDir: pki, dataDir: dataDir, apiListen: api, peerListen: peer, mappingHost: mappingHost,
            members: members, join: join, raft: raft, maxTunnelSeconds: maxTunnelSeconds, loops: loops,
            connectorCertificateSeconds: connectorSeconds)
        config.proxyProtocolFrom = proxies
        config.busyPollMicros = busyPollMicros
        return config
    }

    var caFile: String { "\(pkiDir)/ca.pem" }
    var caKeyFile: String { "\(pkiDir)/ca-key.pem" }
    var certificateFile: String { "\(pkiDir)/\(id).pem" }
    var keyFile: String { "\(pkiDir)/\(id)-key.pem" }

    // MARK: checks

    private static func checkName(_ name: String, key: String) throws(ConfigError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw ConfigError(key, "must be 1–64 letters, digits, '-', '_' or '.', not \"\(name)\"")
        }
    }

    private static func checkAddress(_ text: String, key: String) throws(ConfigError) {
        do { _ = try SocketAddress(parsing: text) } catch {
            throw ConfigError(key, "must be HOST:PORT or [IPv6]:PORT with a numeric host, not \"\(text)\"")
        }
    }

    private static func checkHost(_ text: String, key: String) throws(ConfigError) {
        let bracketed = text.contains(":") ? "[\(text)]:1" : "\(text):1"
        do { _ = try SocketAddress(parsing: bracketed) } catch {
            throw ConfigError(key, "must be a numeric IPv4 or IPv6 address, not \"\(text)\"")
        }
    }

    private static func resolve(_ path: String, in folder: String) -> String {
        path.hasPrefix("/") ? path : (folder as NSString).appendingPathComponent(path)
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}

/// Maps node names to Raft ids. Raft wants a number; operators want names. The id is the
/// first 8 bytes of FNV-1a-64 of the name — stable across versions and machines — and
/// never 0 (Raft's "nobody"). Config loading refuses two names with the same id.
enum NodeIdentity {
    static func raftID(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash == 0 ? 1 : hash
    }
}
