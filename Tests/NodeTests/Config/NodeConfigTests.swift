import Foundation
import Testing

@testable import Node

@Suite struct NodeConfigTests {
    /// The repository root, found from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    func parse(_ json: String) throws(ConfigError) -> NodeConfig {
        try NodeConfig.parse(Data(json.utf8), relativeTo: "/etc/warren")
    }

    static let minimal = """
        {"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"},
         "members": [{"id": "n1", "api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}]}
        """

    @Test func everyShippedConfigLoads() throws {
        for (folder, count) in [("single", 1), ("local-3node", 3), ("local-5node", 5)] {
            for i in 1...count {
                let path = "\(Self.root)/cluster-configs/\(folder)/n\(i).json"
                let config = try NodeConfig.load(path: path)
                #expect(config.id == "n\(i)")
                #expect(config.members.count == count)
                #expect(config.pkiDir == "\(Self.root)/cluster-configs/\(folder)/pki")
                #expect(config.dataDir == "\(Self.root)/cluster-configs/\(folder)/data/n\(i)")
                #expect(config.apiListen == "127.0.0.1:\(7440 + i)")
                #expect(config.peerListen == "127.0.0.1:\(7450 + i)")
            }
        }
        let n2 = try NodeConfig.load(path: "\(Self.root)/cluster-configs/local-3node/n2.json")
        #expect(n2.mappingHost == "127.0.0.2")
        // Behind the local HAProxy (cluster-configs/haproxy, "source 127.0.0.9").
        #expect(n2.trustedProxyCheck?("127.0.0.9") == true)
        #expect(n2.trustedProxyCheck?("127.0.0.1") == false)
    }

    @Test func snapshotLogPercentDefaultsToOneHundred() throws {
        #expect(try parse(Self.minimal).raft.snapshotLogPercent == 100)
        let config = try parse(
            #"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "raft": {"snapshotEveryEntries": 500, "snapshotLogPercent": 0}}"#)
        #expect(config.raft.snapshotLogPercent == 0 && config.raft.snapshotEveryEntries == 500)
    }

    @Test func busyPollingDefaultsToFiftyMicrosecondsAndZeroTurnsItOff() throws {
        #expect(try parse(Self.minimal).busyPollMicros == 50)
        let off = try parse(
            #"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "busyPollMicros": 0}"#)
        #expect(off.busyPollMicros == 0)
    }

    @Test func proxyProtocolSourcesAreCIDRsAndNobodyByDefault() throws {
        #expect(try parse(Self.minimal).trustedProxyCheck == nil)
        let config = try parse(
            """
            {"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"},
             "members": [{"id": "n1", "api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}],
             "proxyProtocolFrom": ["10.0.0.0/24", "2001:db8::7"]}
            """)
        let check = try #require(config.trustedProxyCheck)
        #expect(check("10.0.0.200") && check("2001:db8::7"))
        #expect(!check("10.0.1.1") && !check("2001:db8::8") && !check("not-an-ip"))
        #expect(throws: ConfigError.self) {
            try parse(
                """
                {"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"},
                 "members": [{"id": "n1", "api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}],
                 "proxyProtocolFrom": ["10.0.0.0/33"]}
                """)
        }
    }

    @Test func defaultsAndRelativePaths() throws {
        let config = try parse(Self.minimal)
        #expect(config.pkiDir == "/etc/warren/pki")
        #expect(config.dataDir == "/etc/warren/data/n1")
        #expect(config.raft == NodeConfig.RaftSettings())
        #expect(config.maxTunnelSeconds == 30 * 24 * 3600)
        #expect(config.join == false)
        #expect(config.certificateFile == "/etc/warren/pki/n1.pem")
        #expect(config.keyFile == "/etc/warren/pki/n1-key.pem")
    }

    @Test func overridesWinOverTheFile() throws {
        let dir = NSTemporaryDirectory() + "warren-config-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.minimal.write(toFile: "\(dir)/n1.json", atomically: true, encoding: .utf8)
        let config = try NodeConfig.load(path: "\(dir)/n1.json", pkiOverride: "/tmp/p", dataDirOverride: "/tmp/d")
        #expect(config.pkiDir == "/tmp/p")
        #expect(config.dataDir == "/tmp/d")
    }

    @Test(arguments: [
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "colour": 1}"#,
         ConfigError("colour", "is not a known setting")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451", "apu": "x"}, "join": true}"#,
         ConfigError("listen.apu", "is not a known setting")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1", "peer": "127.0.0.1:7451"}, "join": true}"#,
         ConfigError("listen.api", "must be HOST:PORT or [IPv6]:PORT with a numeric host, not \"127.0.0.1\"")),
        (#"{"id": "n 1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true}"#,
         ConfigError("id", "must be 1–64 letters, digits, '-', '_' or '.', not \"n 1\"")),
        (#"{"listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true}"#,
         ConfigError("id", "is required")),
        (#"{"id": "n1", "join": true}"#, ConfigError("listen", "is required")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": "yes"}"#,
         ConfigError("join", "must be true or false")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "raft": {"tickMillis": 0}}"#,
         ConfigError("raft.tickMillis", "must be between 1 and 1000, not 0")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "raft": {"tickMillis": true}}"#,
         ConfigError("raft.tickMillis", "must be a whole number")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "raft": {"snapshotLogPercent": 10001}}"#,
         ConfigError("raft.snapshotLogPercent", "must be between 0 and 10000, not 10001")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "raft": {"electionTicks": 5, "heartbeatTicks": 5}}"#,
         ConfigError("raft.heartbeatTicks", "must be smaller than raft.electionTicks")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "members": [{"id": "n2", "api": "127.0.0.1:1", "peer": "127.0.0.1:2"}]}"#,
         ConfigError("members", "must list this node (n1) unless \"join\" is true")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "members": [{"id": "n1", "api": "127.0.0.1:1", "peer": "127.0.0.1:2"}, {"id": "n1", "api": "127.0.0.1:1", "peer": "127.0.0.1:2"}]}"#,
         ConfigError("members[1].id", "n1 is listed twice")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "members": [{"id": "n1", "api": "127.0.0.1:1", "peer": "127.0.0.1:2", "mappingHost": "here"}]}"#,
         ConfigError("members[0].mappingHost", "must be a numeric IPv4 or IPv6 address, not \"here\"")),
        (#"{"id": "n1", "listen": {"api": "127.0.0.1:7441", "peer": "127.0.0.1:7451"}, "join": true, "busyPollMicros": -1}"#,
         ConfigError("busyPollMicros", "must be between 0 and 10000, not -1")),
        (#"[1, 2]"#, ConfigError("the file", "must be a JSON object")),
    ])
    func badConfigsNameTheKey(json: String, expected: ConfigError) {
        #expect(throws: expected) { try parse(json) }
    }

    @Test func peersAreVerifiedByTheHostAsConfigured() throws {
        #expect(HostPort.host(of: "n2.cluster.internal:7452") == "n2.cluster.internal")
        #expect(HostPort.host(of: "[::1]:7452") == "::1")
        #expect(HostPort.host(of: "127.0.0.1:7452") == "127.0.0.1")
        let peer = try PeerTransport.Peer(name: "n2", configured: "localhost:7452")
        #expect(peer.serverName == "localhost")
    }

    @Test func raftIDsAreStableAndNonZero() {
        #expect(NodeIdentity.raftID("n1") == NodeIdentity.raftID("n1"))
        #expect(NodeIdentity.raftID("n1") != NodeIdentity.raftID("n2"))
        #expect(NodeIdentity.raftID("") != 0)
    }
}
