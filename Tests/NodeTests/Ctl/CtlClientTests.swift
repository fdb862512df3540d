import Foundation
import Testing

@testable import Node

private func tempDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("warren-ctl-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private let nowMs: Int64 = 1_795_392_000_000

private func args(_ values: [String: [String]] = [:]) -> ParsedArguments {
    ParsedArguments(commandPath: ["ctl", "status"], positionals: [], values: values)
}

@Suite("Ctl client credentials")
struct CtlClientTests {
    @Test func withoutASessionOrPKIItAsksToSignIn() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: CtlError.self) {
            try CtlClient.forCommand(args(), environment: ["WARREN_CONFIG_DIR": dir], nowMs: nowMs)
        }
        #expect(
            error?.message == "not signed in: run warren ctl login (or pass --pki DIR to use the admin certificate)")
    }

    @Test func anExpiredSessionAsksToSignInAgainInOneLine() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let session = CtlSession(
            servers: [], caFile: "\(dir)/ca.pem", token: "t", user: "alice", role: "operator", expiresAt: nowMs - 1)
        try CtlSessionFile.save(session, to: "\(dir)/session.json")
        let error = #expect(throws: CtlError.self) {
            try CtlClient.forCommand(args(), environment: ["WARREN_CONFIG_DIR": dir], nowMs: nowMs)
        }
        #expect(error?.message.contains("expired at 2026-11-22T23:59:59Z: run warren ctl login") == true)
        #expect(error?.message.contains("\n") == false)
    }

    @Test func pkiWinsOverACachedSession() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let session = CtlSession(
            servers: [], caFile: "\(dir)/ca.pem", token: "t", user: "alice", role: "operator", expiresAt: nowMs + 1000)
        try CtlSessionFile.save(session, to: "\(dir)/session.json")
        // The PKI folder is empty: the error is about the admin certificate, not the session.
        let error = #expect(throws: CtlError.self) {
            try CtlClient.forCommand(
                args(["pki": ["\(dir)/pki"]]), environment: ["WARREN_CONFIG_DIR": dir], nowMs: nowMs)
        }
        #expect(error?.message.hasPrefix("cannot use the admin certificate in \(dir)/pki") == true)
    }

    @Test func apiErrorsPrintAsStatusCodeAndMessage() {
        let error = CtlError(status: 409, code: "already_closed", message: "tunnel t-1 is already closed")
        #expect("\(error)" == "409 already_closed: tunnel t-1 is already closed")
        #expect("\(CtlError("plain"))" == "plain")
    }
}
