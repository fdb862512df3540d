/// Sizing a stream's socket read so that its WebSocket message fills whole TLS records.
///
/// A full read leaves as one message: the read's bytes, a 12-byte DATA header per mux
/// frame, and the WebSocket frame header. TLS cuts that into 16 KiB records, so a 256 KiB
/// read (262,144 + 4 × 12 + 10 bytes) ended in a 58-byte record of its own: one more
/// AES-GCM setup and tag, 22 bytes of record overhead, and one more record for the peer
/// to parse, per message. Reading a little less makes the message end on a record
/// boundary. Pure: no I/O.
enum RecordAlignedRead {
    /// TLS's largest record plaintext (RFC 8446 §5.1), OpenSSL's default fragment size.
    static let tlsRecordBytes = 16 * 1024

    /// Bytes on the wire (before TLS) of one message carrying `readBytes` of one stream:
    /// the payload, one mux header per DATA frame of at most `frameBytesMax`, and the
    /// WebSocket header (RFC 6455 §5.2: 2, 4 or 10 bytes by length, plus a 4-byte mask
    /// key from a client).
    static func messageBytes(readBytes: Int, frameBytesMax: Int, masked: Bool) -> Int {
        let frames = (readBytes + frameBytesMax - 1) / frameBytesMax
        let payload = readBytes + frames * MuxProtocol.headerBytes
        let lengthBytes = payload > 65_535 ? 10 : payload > 125 ? 4 : 2
        return payload + lengthBytes + (masked ? 4 : 0)
    }

    /// The largest read ≤ `limit` whose message is a whole number of TLS records; `limit`
    /// itself when it is below two records (trimming would cost more than the tail record)
    /// or no size within one record below it fits.
    static func readBytes(limit: Int, frameBytesMax: Int, masked: Bool) -> Int {
        precondition(frameBytesMax > 0, "frameBytesMax must be positive")
        guard limit >= 2 * tlsRecordBytes else { return limit }
        let message = { (n: Int) in messageBytes(readBytes: n, frameBytesMax: frameBytesMax, masked: masked) }
        // Usually the first guess fits; one header fewer (a frame boundary crossed) may
        // need a few more steps down.
        var n = limit - message(limit) % tlsRecordBytes
        while n > limit - tlsRecordBytes {
            let rest = message(n) % tlsRecordBytes
            if rest == 0 { return n }
            n -= rest
        }
        return limit
    }
}
