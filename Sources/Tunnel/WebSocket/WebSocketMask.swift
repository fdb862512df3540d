/// The client-to-server masking transform (RFC 6455 §5.3): payload byte i is XORed with
/// key byte (i mod 4). Applying it twice restores the input. Pure.
///
/// A key is a `UInt32` in network order: its most significant byte is key byte 0, the
/// first byte on the wire after the length.
public enum WebSocketMask {
    /// XORs `bytes` in place with `key`, as if they started at payload offset `offset`
    /// (so a payload can be unmasked piece by piece as it arrives).
    public static func apply(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // The 8-byte pattern in memory order, starting with the key byte for `offset`.
        var pattern: UInt64 = 0
        withUnsafeMutableBytes(of: &pattern) { out in
            for i in 0..<8 { out[i] = keyByte(key, (offset &+ i) & 3) }
        }
        let count = bytes.count
        var i = 0
        // Safe: every load and store below stays inside [base, base + count).
        while i + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            base.storeBytes(of: word ^ pattern, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            base.storeBytes(of: base.load(fromByteOffset: i, as: UInt8.self) ^ keyByte(key, (offset &+ i) & 3),
                            toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }

    /// `bytes` masked (or unmasked) with `key` from payload offset 0.
    public static func applied(_ bytes: [UInt8], key: UInt32) -> [UInt8] {
        var out = bytes
        out.withUnsafeMutableBytes { apply($0, key: key, offset: 0) }
        return out
    }

    /// Key byte `index` (0…3) of `key`.
    @inline(__always)
    static func keyByte(_ key: UInt32, _ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: key >> UInt32(24 - 8 * index))
    }
}
