/// Checks of `warren ctl` arguments, done before any request so a typo is a usage error
/// (exit 2) that never reaches the cluster. Pure: each returns the value or throws an
/// `ArgumentError` naming the flag and what it expects.
enum CtlArguments {
    /// The single positional argument `what` (e.g. "a tunnel ID"), checked as a name/id.
    static func positional(_ args: ParsedArguments, _ what: String) throws(ArgumentError) -> String {
        guard let first = args.positionals.first else { throw .missingFlag(what, command: args.displayName) }
        guard args.positionals.count == 1 else {
            throw .unexpectedArgument(args.positionals[1], command: args.displayName)
        }
        return try name(first, what)
    }

    /// Refuses any positional argument (for commands that take none).
    static func none(_ args: ParsedArguments) throws(ArgumentError) {
        if let first = args.positionals.first { throw .unexpectedArgument(first, command: args.displayName) }
    }

    /// An id or name: 1–64 of [A-Za-z0-9._-] (what the state machine accepts, and safe in a URL path).
    static func name(_ text: String, _ what: String) throws(ArgumentError) -> String {
        do { try Validation.name(text, what) } catch {
            throw .invalidValue(what, text, expected: "1–64 characters of A-Z a-z 0-9 . _ -")
        }
        return text
    }

    /// An optional name-valued flag.
    static func optionalName(_ args: ParsedArguments, _ flag: String) throws(ArgumentError) -> String? {
        guard let text = args.string(flag) else { return nil }
        return try name(text, "--\(flag)")
    }

    /// A duration like `24h`, `48h`, `90m`, `3600s`, `2d` (the API's own grammar).
    static func duration(_ text: String, flag: String = "--duration") throws(ArgumentError) -> String {
        guard DurationText.seconds(text) != nil else {
            throw .invalidValue(flag, text, expected: "a duration like 24h, 48h, 90m, 3600s or 2d")
        }
        return text
    }

    /// A TCP port 1–65535.
    static func port(_ text: String, flag: String) throws(ArgumentError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw .invalidValue(flag, text, expected: "a port from 1 to 65535")
        }
        return port
    }

    /// `host:port` or `[v6]:port`, canonicalised as the state machine will store it.
    static func hostPort(_ text: String, flag: String) throws(ArgumentError) -> String {
        do { return try Validation.endpointAddress(text, flag) } catch {
            throw .invalidValue(flag, text, expected: "HOST:PORT or [IPV6]:PORT with a port from 1 to 65535")
        }
    }

    /// Every value of a CIDR list flag (`--allow 10.0.0.0/8,192.168.1.0/24`), each checked.
    static func cidrs(_ args: ParsedArguments, _ flag: String) throws(ArgumentError) -> [String] {
        let values = args.list(flag)
        for value in values where value.utf8.count > 64 || IPNetwork(value) == nil {
            throw .invalidValue("--\(flag)", value, expected: "a CIDR like 10.0.0.0/8 or fd00::/64")
        }
        return values
    }

    /// An IP address literal.
    static func ipAddress(_ text: String, flag: String) throws(ArgumentError) -> String {
        guard IPAddress(text) != nil else { throw .invalidValue(flag, text, expected: "an IP address") }
        return text
    }

    /// A time flag: RFC 3339 (`2026-11-23T10:00:00Z`) or Unix milliseconds; nil when absent.
    static func time(_ args: ParsedArguments, _ flag: String) throws(ArgumentError) -> Int64? {
        guard let text = args.string(flag) else { return nil }
        guard let ms = CtlTime.parse(text), ms >= 0, ms <= Validation.timeMsMax else {
            throw .invalidValue(
                "--\(flag)", text,
                expected: "an RFC 3339 time like 2026-11-23T10:00:00Z or milliseconds since the epoch")
        }
        return ms
    }

    /// `--since`/`--until` as a pair, refusing an empty range.
    static func timeRange(_ args: ParsedArguments) throws(ArgumentError) -> (since: Int64?, until: Int64?) {
        let since = try time(args, "since")
        let until = try time(args, "until")
        if let since, let until, until <= since {
            throw .invalidValue("--until", args.string("until") ?? "", expected: "after --since")
        }
        return (since, until)
    }

    /// A whole number within `range`, or nil when absent.
    static func integer(_ args: ParsedArguments, _ flag: String, in range: ClosedRange<Int64>) throws(ArgumentError)
        -> Int64?
    {
        guard let text = args.string(flag) else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw .invalidValue(
                "--\(flag)", text, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Exactly one of the boolean or value flags `names` given; returns its name.
    static func exactlyOne(_ args: ParsedArguments, _ names: [String]) throws(ArgumentError) -> String {
        let given = names.filter { args.values[$0] != nil && args.values[$0] != ["false"] }
        guard given.count == 1 else {
            let list = names.map { "--\($0)" }.joined(separator: " or ")
            if given.isEmpty { throw .missingFlag(list, command: args.displayName) }
            throw .invalidValue(
                "--\(given[1])", args.string(given[1]) ?? "true",
                expected: "allowed with --\(given[0]): use one of \(list)")
        }
        return given[0]
    }

    /// `value` percent-encoded for a URL query (RFC 3986 unreserved characters kept).
    static func queryEscaped(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    /// `?a=1&b=2` from the non-nil pairs, or "" when none.
    static func query(_ pairs: [(String, String?)]) -> String {
        let parts = pairs.compactMap { name, value in value.map { "\(name)=\(queryEscaped($0))" } }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
