import Foundation
import Testing

@testable import Node

private func tempDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("warren-ctl-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

private let session = CtlSession(
    servers: ["https://127.0.0.1:7441"], caFile: "/tmp/pki/ca.pem", token: "eyJ.secret.token", user: "alice",
    role: "operator", expiresAt: 1_795_392_000_000)

@Suite("Ctl session file")
struct CtlSessionFileTests {
    @Test func theFileLivesInWarrenConfigDirElseUnderHome() throws {
        #expect(try CtlSessionFile.path(environment: ["WARREN_CONFIG_DIR": "/c", "HOME": "/h"]) == "/c/session.json")
        #expect(try CtlSessionFile.path(environment: ["HOME": "/h"]) == "/h/.config/warren/session.json")
        #expect(throws: CtlError.self) { try CtlSessionFile.path(environment: [:]) }
    }

    @Test func savedSessionsHaveMode0600InA0700FolderAndLoadBack() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/cfg/warren/session.json"
        try CtlSessionFile.save(session, to: path)
        #expect(try mode(path) == 0o600)
        #expect(try mode("\(dir)/cfg/warren") == 0o700)
        #expect(try mode("\(dir)/cfg") == 0o700)
        #expect(try CtlSessionFile.load(path) == session)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/cfg/warren")
        #expect(leftovers == ["session.json"])

        var newer = session
        newer.user = "bob"
        try CtlSessionFile.save(newer, to: path)
        #expect(try CtlSessionFile.load(path)?.user == "bob")
        #expect(try mode(path) == 0o600)
    }

    @Test func aMissingFileIsNoSessionAndLogoutSaysSo() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CtlSessionFile.load("\(dir)/session.json") == nil)
        #expect(try CtlSessionFile.remove("\(dir)/session.json") == false)
        try CtlSessionFile.save(session, to: "\(dir)/session.json")
        #expect(try CtlSessionFile.remove("\(dir)/session.json") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/session.json"))
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o606])
    func aFileOthersCanReadOrWriteIsRefused(fileMode: Int) throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/session.json"
        try CtlSessionFile.save(session, to: path)
        try FileManager.default.setAttributes([.posixPermissions: fileMode], ofItemAtPath: path)
        let error = #expect(throws: CtlError.self) { try CtlSessionFile.load(path) }
        #expect(error?.message.contains("accessible to others") == true)
        #expect(error?.message.contains(String(fileMode, radix: 8)) == true)
    }

    @Test func aCorruptFileAsksToSignInAgain() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/session.json"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data("{not json".utf8), attributes: [.posixPermissions: 0o600])
        let error = #expect(throws: CtlError.self) { try CtlSessionFile.load(path) }
        #expect(error?.message.contains("run warren ctl login") == true)
    }

    @Test func theTokenNeverAppearsInTheSessionsDescription() {
        #expect(!"\(session)".contains("secret"))
        #expect("\(session)".contains("alice"))
    }

    @Test func atomicWritesLeaveTheTargetUntouchedUntilCommitAndNothingAfterAbort() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/snap.json"
        _ = FileManager.default.createFile(atPath: path, contents: Data("old".utf8))
        let writer = try AtomicFileWriter(path: path, mode: 0o600)
        try writer.write(Array("new".utf8))
        #expect(String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) == "old")
        try writer.commit()
        #expect(String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) == "new")
        #expect(try mode(path) == 0o600)

        let aborted = try AtomicFileWriter(path: path, mode: 0o600)
        try aborted.write(Array("half".utf8))
        aborted.abort()
        #expect(String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["snap.json"])
    }
}
