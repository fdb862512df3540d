import Foundation
import Testing
import Tunnel

@testable import Node

/// The console in a real browser: three `warren node` processes, an admin and an auditor,
/// and Tests/Browser/console_test.py driving headless Chromium over the DevTools protocol.
/// Screenshots of every page land in `.build/console-screenshots` (not committed).
///
/// Chromium missing is a failure, not a skip: `.ci/run` installs it. Set
/// `WARREN_BROWSER_TESTS=skip` to leave it out deliberately on a machine without one
/// (never honoured in CI).
@Suite("Console in headless Chromium", .serialized)
struct ConsoleBrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static func which(_ names: [String]) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in names {
            for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }

    @Test func consoleWorksInHeadlessChromium() throws {
        let environment = ProcessInfo.processInfo.environment
        let inCI = !(environment["CI"] ?? "").isEmpty
        let chromium = environment["WARREN_CHROMIUM"] ?? Self.which(["chromium", "chromium-browser", "google-chrome"])
        let python = Self.which(["python3"])
        guard let chromium, let python else {
            if !inCI && environment["WARREN_BROWSER_TESTS"] == "skip" { return }
            Issue.record(
                "the console's browser test needs chromium and python3 (apt-get install chromium python3; .ci/run does)"
            )
            return
        }
        let cluster = try ProcessCluster(names: ["n1", "n2", "n3"])
        for name in ["n1", "n2", "n3"] { try cluster.start(name, initial: ["n1", "n2", "n3"]) }
        let started = Date()
        try cluster.waitReady(["n1", "n2", "n3"], seconds: 30)
        print("console browser test: cluster ready in \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        let password = "console-" + Hex.encode(SecureRandom.bytes(8))
        for (user, role) in [("alice", "admin"), ("audrey", "auditor")] {
            let added = try cluster.call(
                "n1", "POST", "/v1/users", body: #"{"name":"\#(user)","role":"\#(role)","password":"\#(password)"}"#)
            #expect(added.status.code == 201, "user add \(user): \(added.status)")
        }
        // Through n2: any node serves the console, and writes reach the leader from there.
        let port = try ProcessCluster.freePort()
        let screenshots = Self.packageRoot + "/.build/console-screenshots"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.packageRoot + "/Tests/Browser/console_test.py", "--url",
            "https://127.0.0.1:\(cluster.members["n2"]!.apiPort)",
            "--ca", cluster.dir + "/pki/ca.pem", "--admin", "alice:\(password)", "--auditor", "audrey:\(password)",
            "--mapping-port", String(port), "--screenshots", screenshots, "--warren", cluster.binary,
            "--mapping-host", cluster.mappingHost("n2"),
        ]
        process.environment = environment.merging(["WARREN_CHROMIUM": chromium, "PYTHONDONTWRITEBYTECODE": "1"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        #expect(process.terminationStatus == 0, "console_test.py failed:\n\(text)")
    }
}
