/// The peer port's framing (docs/PROTOCOL.md, "Peer port framing"): each frame is a
/// 4-byte big-endian payload length, then the payload. Lengths 0 and above the
/// receiver's `frameBytesMax` are protocol errors that close the link.
///
/// Pure and thread-agnostic.
public enum FrameFormat {
    /// Bytes of the length prefix.
    public static let headerBytes = 4
    /// Default largest payload a link accepts: 16 MiB.
    public static let defaultFrameBytesMax = 16 * 1024 * 1024
    /// The largest `frameBytesMax` a link may be configured with (what 4 bytes can say).
    public static let frameBytesMaxLimit = Int(UInt32.max)

    /// Appends `payload` as one frame (header, then payload) to `buffer`.
    /// Precondition: 1 ≤ `payload.count` ≤ `frameBytesMaxLimit`.
    public static func append(_ payload: [UInt8], to buffer: inout [UInt8]) {
        precondition(!payload.isEmpty, "a frame needs at least one payload byte")
        precondition(payload.count <= frameBytesMaxLimit, "frame of \(payload.count) bytes exceeds 2^32-1")
        let length = UInt32(payload.count)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
        buffer.append(contentsOf: payload)
    }

    /// `payload` as one encoded frame.
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerBytes + payload.count)
        append(payload, to: &out)
        return out
    }
}

/// Why a frame stream is invalid. A value: the link that sees it closes with it.
public struct FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of violation.
    public enum Code: Sendable, Equatable {
        /// A length prefix of 0 (frames carry at least one byte).
        case emptyFrame
        /// A length prefix above the receiver's `frameBytesMax`.
        case oversizeFrame
    }

    /// The kind of violation.
    public let code: Code
    /// The length prefix the peer sent.
    public let length: UInt32
    /// The receiver's limit when the error was found.
    public let frameBytesMax: Int

    public init(_ code: Code, length: UInt32, frameBytesMax: Int) {
        self.code = code
        self.length = length
        self.frameBytesMax = frameBytesMax
    }

    /// What was received, the limit, and what to do.
    public var description: String {
        switch code {
        case .emptyFrame:
            "peer sent a frame with length 0 (frames carry 1 or more bytes): the stream is not Warren framing"
        case .oversizeFrame:
            "peer sent a frame of \(length) bytes, over frameBytesMax \(frameBytesMax): "
                + "raise frameBytesMax on the receiving node, or send smaller frames"
        }
    }
}
