import Foundation
import Tunnel

@testable import Node

/// One long-lived TCP connection through a mapping listener doing checksummed 1 KiB round
/// trips every 20 ms until stopped: a session that must survive (or must end) as a whole.
final class LoadClient: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var _roundTrips = 0
    private var _failure: String?
    private var _endedAt: Date?
    private let done = DispatchSemaphore(value: 0)
    let fd: Int32

    init(host: String, port: UInt16) throws {
        fd = try connectTCP(host: host, port: port)
        Thread.detachNewThread { [self] in
            run()
            done.signal()
        }
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !lock.withLock({ stopped }) {
            let payload = (0..<1024).map { _ in UInt8.random(in: 0...255) }
            let written = payload.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == payload.count else { return end("write returned \(written)") }
            var received: [UInt8] = []
            while received.count < payload.count {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return end(n == 0 ? "closed by the gateway" : "read failed errno \(errno)") }
                received += buffer[0..<n]
            }
            guard received == payload else { return end("bytes differ") }
            lock.withLock { _roundTrips += 1 }
            usleep(20_000)  // pacing: a steady trickle, not a throughput test
        }
    }

    private func end(_ why: String) {
        lock.withLock {
            _failure = why
            _endedAt = Date()
        }
    }

    var roundTrips: Int { lock.withLock { _roundTrips } }
    /// Why the session ended, if it did.
    var failure: String? { lock.withLock { _failure } }
    var endedAt: Date? { lock.withLock { _endedAt } }

    /// Stops the loop and closes the connection.
    func stop() {
        lock.withLock { stopped = true }
        done.wait()
        close(fd)
    }
}

/// `warren ARGS` (the built binary); returns the status and both outputs.
@discardableResult
func runWarren(binary: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["WARREN_CONFIG_DIR"] = FileManager.default.temporaryDirectory.appendingPathComponent("warren-cfg-\(UUID())").path
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let errHandle = err.fileHandleForReading
    let collected = LockedData()
    Thread.detachNewThread { collected.set(errHandle.readDataToEndOfFile()) }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: collected.wait(), as: UTF8.self))
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let ready = DispatchSemaphore(value: 0)
    func set(_ data: Data) {
        self.data = data
        ready.signal()
    }
    func wait() -> Data {
        ready.wait()
        return data
    }
}

/// One request to `port` presenting `certificate`/`key` (files) and trusting every CA file
/// given; throws when the TLS handshake or the request fails.
func certificateCall(
    port: UInt16, certificate: String, key: String, trusting caFiles: [String], path: String,
    method: String = "GET", body: String = ""
) throws -> HTTPClientResponse {
    var tls = TLSConfiguration(
        trustRootsPEM: try caFiles.filter { FileManager.default.fileExists(atPath: $0) }.map { try PKIFile.readText($0) }
            .joined(separator: "\n"))
    tls.certificateChainPEM = try PKIFile.readText(certificate)
    tls.privateKeyPEM = try PKIFile.readText(key)
    let client = HTTPClient(
        host: "127.0.0.1", port: port, tls: try TLSContext(tls, side: .client), serverName: "127.0.0.1",
        timeoutMillis: 5000)
    defer { client.close() }
    var headers: HTTPHeaders = [:]
    if !body.isEmpty { headers.add(name: "Content-Type", value: "application/json") }
    return try client.send(HTTPClientRequest(method: method, path: path, headers: headers, body: Array(body.utf8)))
}

/// The error text of a call expected to fail at the handshake ("" if it succeeded).
func refusal(_ call: () throws -> HTTPClientResponse) -> String {
    do {
        let response = try call()
        return "answered \(response.status.code)"
    } catch {
        return "\(error)"
    }
}
