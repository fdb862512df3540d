#if canImport(Glibc)
    import Glibc
#endif

/// `warren ctl audit list|export|verify` (admin and auditor).
enum CtlAuditCommands {
    static let rangeFlags: [FlagSpec] = [
        .value("since", "T", "From this time, inclusive (RFC 3339 like 2026-11-23T10:00:00Z, or ms since the epoch)."),
        .value("until", "T", "Up to this time, exclusive (same forms)."),
    ]

    static func table(_ records: [AuditRecord]) -> TextTable {
        var table = TextTable(["SEQ", "TIME", "ACTOR", "NODE", "SOURCE", "ACTION", "OBJECT", "OUTCOME", "DETAIL"])
        for r in records {
            table.add([
                String(r.seq), CtlTime.rfc3339(ms: r.at), "\(r.actor.kind.rawValue):\(r.actor.name)", r.node,
                CtlOutput.orDash(r.source), r.action, CtlOutput.orDash(r.object), r.outcome.rawValue,
                CtlOutput.orDash(r.detail),
            ])
        }
        return table
    }
}

enum CtlAuditListCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "audit", "list"],
        summary: "One page of audit records, oldest first; prints the cursor for the next page.",
        details: """
            Pages hold 20 records unless --limit (1–1000). When more match, the next page is
            --after CURSOR with the printed cursor (--json: "nextCursor").

            Example: warren ctl audit list --since 2026-11-23T10:00:00Z --until 2026-11-24T00:00:00Z
            """,
        flags: CtlAuditCommands.rangeFlags + [
            .value("limit", "N", "Records per page (default 20, at most 1000)."),
            .value("after", "CURSOR", "Continue after this cursor (a record's seq)."),
        ])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let range = try CtlArguments.timeRange(args)
        let limit = try CtlArguments.integer(args, "limit", in: 1...1000)
        let after = try CtlArguments.integer(args, "after", in: 0...Int64.max)
        let query = CtlArguments.query([
            ("since", range.since.map(String.init)), ("until", range.until.map(String.init)),
            ("after", after.map(String.init)), ("limit", limit.map(String.init)),
        ])
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/audit" + query)
        try CtlOutput.emit(bytes, args, as: AuditPage.self) { page in
            var text = CtlAuditCommands.table(page.records).render()
            if let next = page.nextCursor {
                text +=
                    "More records: warren ctl audit list --after \(next)" + (limit.map { " --limit \($0)" } ?? "")
                    + (args.string("since").map { " --since \($0)" } ?? "")
                    + (args.string("until").map { " --until \($0)" } ?? "") + "\n"
            }
            return text
        }
        return 0
    }
}

enum CtlAuditExportCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "audit", "export"],
        summary: "Export audit records as CSV or JSON lines, streamed to stdout or a file.",
        details: """
            The export is streamed page by page and never held in memory. With --out the file is
            written atomically (mode 0600): it appears complete or not at all.

            Example: warren ctl audit export --format csv --since 2026-11-01T00:00:00Z --out audit.csv
            """,
        flags: CtlAuditCommands.rangeFlags + [
            .value("format", "FORMAT", "csv or json (one record per line).", required: true),
            .value("out", "FILE", "Write to FILE instead of stdout."),
        ])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let format = try args.choice("format", ["csv", "json"], default: "csv")
        let range = try CtlArguments.timeRange(args)
        let path =
            "/v1/audit/export"
            + CtlArguments.query([
                ("format", format), ("since", range.since.map(String.init)), ("until", range.until.map(String.init)),
            ])
        let client = try CtlClient.forCommand(args)
        guard let out = args.string("out") else {
            try client.download(path) { bytes throws(CtlError) in try writeAll(STDOUT_FILENO, bytes) }
            return 0
        }
        let writer = try AtomicFileWriter(path: out, mode: 0o600)
        try client.download(path) { bytes throws(CtlError) in try writer.write(bytes) }
        try writer.commit()
        return 0
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(CtlError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw CtlError("cannot write to stdout: \(AtomicFileWriter.errnoText())") }
            offset += written
        }
    }
}

enum CtlAuditVerifyCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "audit", "verify"],
        summary: "Check the audit hash chain; exit status 1 when it is broken.")

    private struct Answer: Decodable {
        var ok: Bool
        var records: Int
        var firstBadSeq: UInt64?
    }

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/audit/verify")
        let answer = try CtlOutput.decode(Answer.self, bytes)
        if args.json { CtlOutput.write(try CtlOutput.prettyJSON(bytes)) }
        guard answer.ok else {
            let at = answer.firstBadSeq.map { " at record \($0)" } ?? ""
            throw CtlError("the audit chain is broken\(at) (\(answer.records) records held)")
        }
        if !args.json { CtlOutput.write("Audit chain intact: \(answer.records) records.\n") }
        return 0
    }
}
