import Glibc
import Testing

@testable import Consensus

/// Interaction tests with expected transcripts (`testdata/*.txt`, format in
/// `TranscriptRunner`). `REWRITE_TRANSCRIPTS=1 swift test --filter Transcript` rewrites the
/// expected outputs from what the code does now — read the diff before committing it.
@Suite struct TranscriptTests {
    static let directory: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/testdata"
    }()

    static let files = [
        "election.txt", "prevote-checkquorum.txt", "replication-conflict.txt", "snapshot.txt", "membership.txt",
        "transfer.txt", "read-index.txt",
    ]

    @Test(arguments: files) func transcriptMatches(_ name: String) throws {
        let path = Self.directory + "/" + name
        let text = try #require(Self.read(path), "cannot read \(path)")
        var runner = TranscriptRunner()
        var rewritten: [String] = []
        var mismatches = 0
        for block in Self.blocks(text) {
            if block.command == nil {
                rewritten.append(block.raw)
                continue
            }
            let actual = runner.run(block.command!)
            rewritten.append(([block.command!, "----"] + actual).joined(separator: "\n"))
            if actual != block.expected {
                mismatches += 1
                if getenv("REWRITE_TRANSCRIPTS") == nil {
                    Issue.record(
                        "\(name): `\(block.command!)`\nexpected:\n\(block.expected.joined(separator: "\n"))\nactual:\n\(actual.joined(separator: "\n"))"
                    )
                }
            }
        }
        if getenv("REWRITE_TRANSCRIPTS") != nil && mismatches > 0 {
            Self.write(path, rewritten.joined(separator: "\n\n") + "\n")
        }
    }

    struct Block {
        var raw: String
        var command: String?
        var expected: [String]
    }

    /// Splits a transcript into blocks: a comment-only block has no command.
    static func blocks(_ text: String) -> [Block] {
        var blocks: [Block] = []
        var current: [String] = []
        func finish() {
            guard !current.isEmpty else { return }
            let body = current.filter { !$0.hasPrefix("#") }
            let comments = current.filter { $0.hasPrefix("#") }
            if !comments.isEmpty { blocks.append(Block(raw: comments.joined(separator: "\n"), command: nil, expected: [])) }
            if let command = body.first {
                // Without a `----` line the block has no expected output yet: a rewrite fills it.
                // One command per block: a second line before `----` is a mistake, refused
                // (a rewrite would otherwise drop it).
                let separator = body.firstIndex(of: "----")
                precondition(
                    separator == 1 || (separator == nil && body.count == 1),
                    "transcript block must be one command line then ----: \(body.prefix(3))")
                let expected = separator.map { Array(body[($0 + 1)...]) } ?? []
                blocks.append(Block(raw: body.joined(separator: "\n"), command: command, expected: expected))
            }
            current = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.isEmpty { finish() } else { current.append(line) }
        }
        finish()
        return blocks
    }

    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func write(_ path: String, _ text: String) {
        guard let f = fopen(path, "w") else { return }
        defer { fclose(f) }
        _ = Array(text.utf8).withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
    }
}
