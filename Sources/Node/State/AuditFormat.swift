import Foundation

/// Audit export encodings: CSV (RFC 4180) and JSON (lines or one array). Pure functions;
/// exports stream page by page (`AuditLog.pages`), writing `csvHeader` once first.
enum AuditFormat {
    /// The CSV columns, in order.
    static let csvColumns = [
        "seq", "at", "actorKind", "actorName", "node", "source", "action", "object", "outcome", "detail", "prevHash",
        "hash",
    ]

    /// The header line, CRLF-terminated.
    static var csvHeader: String { csvLine(csvColumns) }

    /// One CSV line per record, CRLF-terminated (no header).
    static func csv(_ records: some Sequence<AuditRecord>) -> String {
        records.map { record in
            csvLine([
                String(record.seq), String(record.at), record.actor.kind.rawValue, record.actor.name, record.node,
                record.source, record.action, record.object, record.outcome.rawValue, record.detail, record.prevHash,
                record.hash,
            ])
        }.joined()
    }

    /// RFC 4180 §2: fields with a comma, quote, CR or LF are quoted, quotes doubled.
    /// A field a spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`,
    /// tab or CR — OWASP "CSV injection") is prefixed with `'` and quoted, so a tunnel or
    /// user name chosen by one operator cannot execute in an auditor's spreadsheet. The
    /// export is for reading; `audit verify` and the hash chain use the records, not CSV.
    static func csvField(_ field: String) -> String {
        let formula = field.unicodeScalars.first.map { formulaStarts.contains($0) } ?? false
        guard formula || field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
        else { return field }
        return "\"" + (formula ? "'" : "") + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    /// One record per line, canonical JSON, each ending in "\n".
    static func jsonLines(_ records: some Sequence<AuditRecord>) -> String {
        records.map { String(decoding: CanonicalJSON.encode($0), as: UTF8.self) + "\n" }.joined()
    }

    /// All records as one JSON array.
    static func jsonArray(_ records: some Sequence<AuditRecord>) -> String {
        "[" + records.map { String(decoding: CanonicalJSON.encode($0), as: UTF8.self) }.joined(separator: ",") + "]"
    }

    private static func csvLine(_ fields: [String]) -> String {
        fields.map(csvField).joined(separator: ",") + "\r\n"
    }
}
