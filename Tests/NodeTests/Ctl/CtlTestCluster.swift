import Foundation
import Tunnel

@testable import Node

/// Three `warren node` processes on loopback with free ports, their PKI (made by
/// `warren pki init`) and data in a scratch folder, driven by `warren ctl` processes.
/// Every node process is SIGKILLed by `stopAll()` (call it from a `defer`).
final class CtlTestCluster {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
    }

    static let names = ["n1", "n2", "n3"]

    let dir: String
    let binary: String
    private(set) var apiPorts: [String: UInt16] = [:]
    private var nodes: [String: Process] = [:]

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-ctl-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        binary = try Self.warrenBinary()
        let made = try runWarren(["pki", "init", "--out", "\(dir)/pki", "--nodes", Self.names.joined(separator: ",")])
        guard made.status == 0 else { throw CommandError("pki init failed: \(made.stderr)") }
        var peerPorts: [String: UInt16] = [:]
        for name in Self.names {
            apiPorts[name] = try Self.freePort()
            peerPorts[name] = try Self.freePort()
        }
        let members = Self.names.map { n in
            #"{"id":"\#(n)","api":"127.0.0.1:\#(apiPorts[n]!)","peer":"127.0.0.1:\#(peerPorts[n]!)","mappingHost":"127.0.0.1"}"#
        }.joined(separator: ",")
        for name in Self.names {
            let config = """
                {"id":"\(name)","listen":{"api":"127.0.0.1:\(apiPorts[name]!)","peer":"127.0.0.1:\(peerPorts[name]!)"},
                 "mappingHost":"127.0.0.1","members":[\(members)],"loops":1}
                """
            try config.write(toFile: "\(dir)/\(name).json", atomically: true, encoding: .utf8)
        }
    }

    func url(_ name: String) -> String { "https://127.0.0.1:\(apiPorts[name]!)" }
    var allURLs: String { Self.names.map(url).joined(separator: ",") }

    /// Starts `name` from its config and data dir (appending to its log).
    func start(_ name: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "node", "--config", "\(dir)/\(name).json", "--pki", "\(dir)/pki", "--data-dir", "\(dir)/data/\(name)",
            "--log-level", "warn",
        ]
        let logPath = "\(dir)/\(name).log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        nodes[name] = process
    }

    func kill9(_ name: String) {
        guard let process = nodes.removeValue(forKey: name) else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGKILLs every node still running (safe to call twice).
    func stopAll() {
        for name in Array(nodes.keys) { kill9(name) }
    }

    func removeFiles() { try? FileManager.default.removeItem(atPath: dir) }

    func log(_ name: String) -> String { (try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "" }

    /// Polls `/readyz` on `names` until all answer 200, or throws after `seconds`.
    func waitReady(_ names: [String], seconds: Double = 30) throws {
        let ca = try String(contentsOfFile: "\(dir)/pki/ca.pem", encoding: .utf8)
        let tls = try TLSContext(TLSConfiguration(trustRootsPEM: ca), side: .client)
        try waitUntil("\(names) ready", seconds: seconds) {
            names.allSatisfy { name in
                let client = HTTPClient(host: "127.0.0.1", port: self.apiPorts[name]!, tls: tls, timeoutMillis: 1000)
                defer { client.close() }
                return (try? client.send(HTTPClientRequest(path: "/readyz")).status.code) == 200
            }
        }
    }

    func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            usleep(100_000)
        }
        throw CommandError("timed out after \(seconds)s waiting for \(what)")
    }

    /// `warren ARGS` with `stdin`, the session folder `configDir` (default `DIR/cfg`).
    @discardableResult
    func runWarren(_ arguments: [String], stdin: String? = nil, configDir: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["WARREN_CONFIG_DIR"] = configDir ?? "\(dir)/cfg"
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // stderr is read on the side so neither pipe can fill up and stall the child.
        let errData = ErrorCollector(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: errData.wait(), as: UTF8.self))
    }

    /// `warren ctl ARGS`.
    @discardableResult
    func ctl(_ arguments: [String], stdin: String? = nil, configDir: String? = nil) throws -> Run {
        try runWarren(["ctl"] + arguments, stdin: stdin, configDir: configDir)
    }

    /// A free loopback port (shared with the other process tests).
    static func freePort() throws -> UInt16 { try ProcessCluster.freePort() }

    /// The built `warren` binary, next to the test bundle in the scratch folder.
    static func warrenBinary() throws -> String { try ProcessCluster.warrenBinary() }
}

/// Reads a pipe to its end on another thread.
private final class ErrorCollector: @unchecked Sendable {
    // Safe: `data` is written once by the reading thread before `done` is signalled and
    // read only after `wait()` returns.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
