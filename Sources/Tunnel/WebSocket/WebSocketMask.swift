internal import CShim

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
        // In C (CShim/mask.c): AVX2 where the CPU has it. Swift's generic SIMD types are
        // not lowered to vector code here (SIMD32 was 5x slower than an 8-byte loop).
        warren_ws_mask(base.assumingMemoryBound(to: UInt8.self), bytes.count, key, offset & 3)
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
