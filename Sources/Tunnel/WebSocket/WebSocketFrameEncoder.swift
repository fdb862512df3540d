/// Serializes frames (RFC 6455 §5.2). Pure: the caller supplies the mask key (a client
/// must draw a fresh unpredictable one per frame, §5.3; a server sends `nil`).
///
/// Lengths use the shortest encoding (7, 16 or 64 bits), as the decoder requires.
public enum WebSocketFrameEncoder {
    /// Largest frame header: 2 bytes, a 64-bit length, a 4-byte mask key.
    public static let headerBytesMax = 14

    /// Appends the header of a frame carrying `payloadCount` bytes to `out`.
    public static func appendHeader(
        opcode: WebSocketOpcode, fin: Bool = true, payloadCount: Int, maskKey: UInt32?, to out: inout [UInt8]
    ) {
        precondition(payloadCount >= 0, "negative payload length")
        precondition(!opcode.isControl || (fin && payloadCount <= 125),
                     "control frames are unfragmented and carry at most 125 bytes (RFC 6455 §5.5)")
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        if payloadCount <= 125 {
            out.append(maskBit | UInt8(payloadCount))
        } else if payloadCount <= 0xFFFF {
            out.append(maskBit | 126)
            out.append(UInt8(payloadCount >> 8))
            out.append(UInt8(payloadCount & 0xFF))
        } else {
            out.append(maskBit | 127)
            let length = UInt64(payloadCount)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        }
        if let maskKey {
            for i in 0..<4 { out.append(WebSocketMask.keyByte(maskKey, i)) }
        }
    }

    /// One whole frame: header and payload (masked when `maskKey` is given).
    public static func frame(
        opcode: WebSocketOpcode, fin: Bool = true, payload: [UInt8], maskKey: UInt32?
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerBytesMax + payload.count)
        appendHeader(opcode: opcode, fin: fin, payloadCount: payload.count, maskKey: maskKey, to: &out)
        let start = out.count
        out += payload
        if let maskKey {
            out.withUnsafeMutableBytes { all in
                WebSocketMask.apply(UnsafeMutableRawBufferPointer(rebasing: all[start...]), key: maskKey, offset: 0)
            }
        }
        return out
    }

    /// The payload of a Close frame: the code in network order and `reason` as UTF-8,
    /// cut on a character boundary so the whole fits the 125-byte control limit (§5.5.1).
    /// Precondition: `code.isValidOnWire`.
    public static func closePayload(code: WebSocketCloseCode, reason: String) -> [UInt8] {
        precondition(code.isValidOnWire, "close code \(code) may not be sent (RFC 6455 §7.4)")
        var out: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        for scalar in reason.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            guard out.count + encoded.count <= 125 else { break }
            out += encoded
        }
        return out
    }
}
