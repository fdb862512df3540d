/// Splits a byte stream into frames (`FrameFormat`), incrementally: bytes may arrive in
/// any split, and a frame is handed out once its last byte has arrived.
///
/// Pure: no I/O, clock or allocation beyond the frames themselves. Not thread-safe; one
/// decoder per connection. Fuzz-safe: every input either yields frames or a `FrameError`,
/// and memory is bounded by one partial frame, which grows only as its bytes arrive (a
/// length prefix alone reserves nothing large).
public struct FrameDecoder {
    /// The largest payload accepted.
    public let frameBytesMax: Int

    /// Header bytes of the frame being assembled. Invariant: `headerCount < 4` while
    /// `payloadLength == nil`.
    private var header: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var headerCount = 0
    /// The current frame's length once its header is complete.
    /// Invariant: `payload.count < payloadLength`, and 1 ≤ `payloadLength` ≤ `frameBytesMax`.
    private var payloadLength: Int?
    private var payload: [UInt8] = []
    /// The first error; once set, the decoder consumes nothing more.
    public private(set) var error: FrameError?

    /// Bytes held for the frame being assembled (header and payload).
    public var bufferedBytes: Int { payloadLength == nil ? headerCount : FrameFormat.headerBytes + payload.count }

    /// Initial reservation for a partial frame; it then grows with the bytes received.
    static let partialReserveBytes = 64 * 1024

    /// A decoder for frames of at most `frameBytesMax` (1 … `FrameFormat.frameBytesMaxLimit`) bytes.
    public init(frameBytesMax: Int = FrameFormat.defaultFrameBytesMax) {
        precondition(
            (1...FrameFormat.frameBytesMaxLimit).contains(frameBytesMax),
            "frameBytesMax \(frameBytesMax) is not in 1...\(FrameFormat.frameBytesMaxLimit)")
        self.frameBytesMax = frameBytesMax
    }

    /// Consumes all of `bytes`, appending each completed payload to `frames` in order.
    /// Returns the error that makes the stream invalid (frames before it are still
    /// appended); after an error every call returns it again and consumes nothing.
    @discardableResult
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into frames: inout [[UInt8]]) -> FrameError? {
        if let error { return error }
        var offset = 0
        let count = bytes.count
        while offset < count {
            guard let length = payloadLength else {
                // Fast path: a whole header (and maybe a whole payload) in this chunk.
                if headerCount == 0 && count - offset >= FrameFormat.headerBytes {
                    let length = Self.readLength(bytes, at: offset)
                    if let error = validate(length) { return fail(error) }
                    offset += FrameFormat.headerBytes
                    if count - offset >= length {
                        frames.append(Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])))
                        offset += length
                    } else {
                        startPayload(length)
                    }
                    continue
                }
                appendHeaderByte(bytes[offset])
                offset += 1
                if headerCount == FrameFormat.headerBytes {
                    headerCount = 0
                    let length = Int(header.0) << 24 | Int(header.1) << 16 | Int(header.2) << 8 | Int(header.3)
                    if let error = validate(length) { return fail(error) }
                    startPayload(length)
                }
                continue
            }
            let take = min(length - payload.count, count - offset)
            payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            if payload.count == length {
                frames.append(payload)
                payload = []
                payloadLength = nil
            }
        }
        return nil
    }

    /// `feed` for an array (tests, small inputs).
    @discardableResult
    public mutating func feed(_ bytes: [UInt8], into frames: inout [[UInt8]]) -> FrameError? {
        bytes.withUnsafeBytes { feed($0, into: &frames) }
    }

    private static func readLength(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
        Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
    }

    private func validate(_ length: Int) -> FrameError? {
        if length == 0 { return FrameError(.emptyFrame, length: 0, frameBytesMax: frameBytesMax) }
        if length > frameBytesMax {
            return FrameError(.oversizeFrame, length: UInt32(length), frameBytesMax: frameBytesMax)
        }
        return nil
    }

    private mutating func appendHeaderByte(_ byte: UInt8) {
        switch headerCount {
        case 0: header.0 = byte
        case 1: header.1 = byte
        case 2: header.2 = byte
        default: header.3 = byte
        }
        headerCount += 1
    }

    private mutating func startPayload(_ length: Int) {
        payloadLength = length
        payload = []
        payload.reserveCapacity(min(length, Self.partialReserveBytes))
    }

    private mutating func fail(_ error: FrameError) -> FrameError {
        self.error = error
        payload = []
        payloadLength = nil
        return error
    }
}
