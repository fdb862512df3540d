import Foundation
import Tunnel

@testable import Node

/// `warren node` processes on loopback with their own free ports, configs, PKI and data
/// in a scratch folder: what an operator runs, started and killed for real.
final class ProcessCluster: @unchecked Sendable {
    struct Member {
        var name: String
        var apiPort: UInt16
        var peerPort: UInt16
    }

    let dir: String
    let binary: String
    private(set) var members: [String: Member] = [:]
    private var processes: [String: Process] = [:]
    /// More top-level config keys for every node, e.g. `"certificates":{…}` (no leading comma).
    var extraConfig = ""

    /// Makes the PKI for `names` (all nodes that will ever join) and picks their ports.
    init(names: [String]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-proc-\(UUID().uuidString)").path
        binary = try Self.warrenBinary()
        _ = try PKIInitCommand.perform(
            .init(directory: dir + "/pki", nodes: names, hosts: ["127.0.0.1"], days: 30, caDays: 365, caName: "test CA",
                  force: false), now: Int64(Date().timeIntervalSince1970))
        for name in names {
            members[name] = Member(name: name, apiPort: try Self.freePort(), peerPort: try Self.freePort())
        }
    }

    deinit {
        for process in processes.values where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes.values { process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Writes `name`'s config listing `initial` as the bootstrap members (or joining) and starts it.
    func start(_ name: String, initial: [String], join: Bool = false) throws {
        let member = members[name]!
        let list = initial.map { n in
            let m = members[n]!
            return #"{"id":"\#(n)","api":"127.0.0.1:\#(m.apiPort)","peer":"127.0.0.1:\#(m.peerPort)"}"#
        }.joined(separator: ",")
        let config = """
            {"id":"\(name)","pki":"\(dir)/pki","dataDir":"\(dir)/data/\(name)",
             "listen":{"api":"127.0.0.1:\(member.apiPort)","peer":"127.0.0.1:\(member.peerPort)"},
             "members":[\(list)],"join":\(join),"loops":1,"mappingHost":"\(mappingHost(name))"\(extraConfig.isEmpty ? "" : "," + extraConfig)}
            """
        try config.write(toFile: "\(dir)/\(name).json", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["node", "--config", "\(dir)/\(name).json", "--log-level", "warn"]
        if !FileManager.default.fileExists(atPath: "\(dir)/\(name).log") {
            _ = FileManager.default.createFile(atPath: "\(dir)/\(name).log", contents: nil)
        }
        let log = FileHandle(forWritingAtPath: "\(dir)/\(name).log")!
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        processes[name] = process
    }

    /// Each node's mapping listeners get their own loopback address (127.0.0.1, .2, …), as
    /// on separate hosts, so one mapping port can be bound on every node.
    func mappingHost(_ name: String) -> String {
        let index = members.keys.sorted().firstIndex(of: name) ?? 0
        return "127.0.0.\(index + 1)"
    }

    /// Restarts a stopped member from its data dir with its existing config.
    func restart(_ name: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["node", "--config", "\(dir)/\(name).json", "--log-level", "warn"]
        let log = FileHandle(forWritingAtPath: "\(dir)/\(name).log")!
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        processes[name] = process
    }

    func kill9(_ name: String) {
        guard let process = processes[name] else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends `signal` (SIGSTOP, SIGCONT: a node frozen as if cut off, then thawed).
    func signal(_ name: String, _ signal: Int32) {
        guard let process = processes[name] else { return }
        kill(process.processIdentifier, signal)
    }

    /// SIGTERM and wait; returns the exit status.
    func terminate(_ name: String) -> Int32 {
        guard let process = processes[name] else { return -1 }
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "" }

    /// One admin-certificate request to `name`'s API.
    func call(_ name: String, _ method: String, _ path: String, body: String = "", timeoutMillis: Int = 5000) throws
        -> HTTPClientResponse
    {
        var tls = TLSConfiguration(trustRootsPEM: try String(contentsOfFile: "\(dir)/pki/ca.pem", encoding: .utf8))
        tls.certificateChainPEM = try String(contentsOfFile: "\(dir)/pki/admin.pem", encoding: .utf8)
        tls.privateKeyPEM = try String(contentsOfFile: "\(dir)/pki/admin-key.pem", encoding: .utf8)
        let client = HTTPClient(
            host: "127.0.0.1", port: members[name]!.apiPort, tls: try TLSContext(tls, side: .client),
            serverName: "127.0.0.1", timeoutMillis: timeoutMillis)
        defer { client.close() }
        return try client.send(HTTPClientRequest(method: method, path: path, body: Array(body.utf8)))
    }

    func json(_ response: HTTPClientResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    /// The leader as `name` reports it.
    func leader(seenBy name: String) -> String? {
        guard let response = try? call(name, "GET", "/v1/status", timeoutMillis: 1000), response.status == .ok else {
            return nil
        }
        return json(response)["leader"] as? String
    }

    func waitReady(_ names: [String], seconds: Double = 20) throws {
        try waitUntil("\(names) are ready", seconds: seconds) {
            names.allSatisfy { (try? self.call($0, "GET", "/readyz", timeoutMillis: 1000).status.code) == 200 }
        }
    }

    /// A port for a test process to listen on: `TestPorts.next()`.
    static func freePort() throws -> UInt16 { try TestPorts.next() }

    /// The built `warren` binary, next to the test bundle in the scratch folder.
    static func warrenBinary() throws -> String {
        let candidates = [CommandLine.arguments[0], Bundle.main.bundlePath, Bundle.main.executablePath ?? ""]
        for candidate in candidates where !candidate.isEmpty {
            var dir = URL(fileURLWithPath: candidate).deletingLastPathComponent()
            for _ in 0..<4 {
                let path = dir.appendingPathComponent("warren").path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
                dir.deleteLastPathComponent()
            }
        }
        throw CommandError("warren binary not found near \(candidates)")
    }
}
