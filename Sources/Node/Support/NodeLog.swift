#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Structured logging: one JSON object per line on stderr —
/// `{"ts":"2026-11-23T17:40:00.123Z","level":"info","node":"n1","msg":"...","k":"v"}`.
///
/// Safe from any thread: each line is built first and written with one `write(2)`, so
/// lines from different threads never interleave. Callers never pass secrets (tokens,
/// keys, passwords): fields are logged as given.
final class NodeLog: Sendable {
    enum Level: Int, Comparable, Sendable {
        case debug, info, warn, error
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String { ["debug", "info", "warn", "error"][rawValue] }
    }

    let node: String
    let minimum: Level
    private let fd: Int32

    init(node: String, minimum: Level = .info, fd: Int32 = 2) {
        self.node = node
        self.minimum = minimum
        self.fd = fd
    }

    /// Debug lines are built only when they will be written: callers on the data path
    /// (a line per stream event) must cost nothing at the usual `info` level — building
    /// `"\(event)"` eagerly was a quarter of a node's CPU per session.
    func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> [String: String] = [:]) {
        guard minimum <= .debug else { return }
        emit(.debug, message(), fields())
    }
    func info(_ message: String, _ fields: [String: String] = [:]) { emit(.info, message, fields) }
    func warn(_ message: String, _ fields: [String: String] = [:]) { emit(.warn, message, fields) }
    func error(_ message: String, _ fields: [String: String] = [:]) { emit(.error, message, fields) }

    func emit(_ level: Level, _ message: String, _ fields: [String: String]) {
        guard level >= minimum else { return }
        var line = "{\"ts\":\(JSONText.quote(Self.timestamp())),\"level\":\"\(level.name)\""
        line += ",\"node\":\(JSONText.quote(node)),\"msg\":\(JSONText.quote(message))"
        for key in fields.keys.sorted() { line += ",\(JSONText.quote(key)):\(JSONText.quote(fields[key]!))" }
        line += "}\n"
        line.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        let ms = Int(date.timeIntervalSince1970 * 1000) % 1000
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, ms)
    }
}

/// JSON string quoting for hand-built JSON (logs, metrics): RFC 8259 escapes.
enum JSONText {
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
