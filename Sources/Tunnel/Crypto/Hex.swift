/// Lowercase hexadecimal (RFC 4648 §8 "base16", lowercase as digests are usually shown). Pure.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex, two characters per byte.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of hex `text` (either case). An odd length or a non-hex character is
    /// refused with `CryptoError(.invalidEncoding)`.
    public static func decode(_ text: String) throws -> [UInt8] {
        let chars = text.utf8
        guard chars.count % 2 == 0 else { throw CryptoError(.invalidEncoding, "hex: odd length \(chars.count)") }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        // Straight over the string's UTF-8 (no copy into an array first): audit hashes
        // decode a 64-character digest per record on every node.
        var high: UInt8 = 0
        var index = 0
        for char in chars {
            guard let value = nibble(char) else {
                throw CryptoError(.invalidEncoding, "hex: invalid character near offset \(index & ~1)")
            }
            if index & 1 == 0 {
                high = value
            } else {
                out.append(high << 4 | value)
            }
            index += 1
        }
        return out
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
