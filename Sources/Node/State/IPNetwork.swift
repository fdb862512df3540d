import Foundation

/// An IPv4 or IPv6 address as bytes (4 or 16), parsed from text without the C library so
/// the state machine stays pure and its answers identical on every node. Pure values.
struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6. Invariant: count is 4 or 16.
    let bytes: [UInt8]

    var isIPv4: Bool { bytes.count == 4 }

    /// Parses dotted-quad IPv4 (no leading zeros, RFC 6943 §3.1.1) or IPv6 text
    /// (RFC 4291 §2.2, with `::` and an embedded IPv4 tail; no zone). Nil when invalid.
    init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        if let v4 = IPAddress.parseIPv4(Substring(text)) {
            bytes = v4
        } else if let v6 = IPAddress.parseIPv6(text) {
            bytes = v6
        } else {
            return nil
        }
    }

    init(bytes: [UInt8]) {
        precondition(bytes.count == 4 || bytes.count == 16, "IPAddress needs 4 or 16 bytes")
        self.bytes = bytes
    }

    /// Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`).
    var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength && end - index >= 2 {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[0..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            guard part.count == 1 || part.first != "0", let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }

    private static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        guard let head = parseGroups(halves[0]) else { return nil }
        if halves.count == 1 {
            guard head.count == 16 else { return nil }
            return head
        }
        guard let tail = parseGroups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// Colon-separated hex groups, the last of which may be a dotted quad; "" is none.
    private static func parseGroups(_ text: String) -> [UInt8]? {
        guard !text.isEmpty else { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 8 else { return nil }
        var out: [UInt8] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, part.contains(".") {
                guard let v4 = parseIPv4(part) else { return nil }
                out += v4
                continue
            }
            guard (1...4).contains(part.count), part.allSatisfy({ $0.isHexDigit && $0.isASCII }),
                let value = UInt16(part, radix: 16)
            else { return nil }
            out += [UInt8(value >> 8), UInt8(value & 0xFF)]
        }
        return out
    }
}

/// An IP network in CIDR notation (RFC 4632 / RFC 4291 §2.3). Pure value.
struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network address with host bits cleared. Invariant: `address & ~mask == 0`.
    let address: IPAddress
    /// Prefix length; 0...32 for IPv4, 0...128 for IPv6.
    let prefixLength: Int

    /// Parses `address/prefix`; host bits set in the address are cleared (so
    /// "10.1.2.3/8" means "10.0.0.0/8"). A bare address is a host route (/32 or /128).
    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(String(parts[0])) else { return nil }
        let maxLength = address.bytes.count * 8
        var length = maxLength
        if parts.count == 2 {
            guard (1...3).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                parts[1].count == 1 || parts[1].first != "0", let value = Int(parts[1]), value <= maxLength
            else { return nil }
            length = value
        }
        self.prefixLength = length
        self.address = IPAddress(bytes: IPNetwork.masked(address.bytes, length))
    }

    /// Canonical `address/prefix` text.
    var description: String { "\(address)/\(prefixLength)" }

    /// Whether `candidate` (same family) lies inside this network.
    func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        return IPNetwork.masked(candidate.bytes, prefixLength) == address.bytes
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var out = bytes
        for index in 0..<out.count {
            let bitsHere = max(0, min(8, length - index * 8))
            out[index] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
        }
        return out
    }
}
