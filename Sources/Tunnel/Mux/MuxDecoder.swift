/// An incremental decoder of a mux byte stream: bytes in, in pieces of any size, frames
/// out (docs/PROTOCOL.md, "Mux"). It checks each frame's form — known type, zero flags
/// and reserved bits, the length its type requires, the right kind of stream id, the
/// size limit — and leaves meaning (which stream, which state) to `MuxSession`.
///
/// Not thread-safe: one owner. Pure: no I/O.
///
/// Copies: a frame that lies whole inside one input is returned as a slice of that input
/// (its storage is shared, not copied). Only a frame split across inputs is gathered into
/// a buffer of its own, which is then sliced. Memory: at most one header plus
/// `frameBytesMax` bytes are held between calls; a length above the limit is refused as
/// soon as the header is complete, before any payload is buffered.
public struct MuxDecoder {
    /// The largest payload accepted.
    public let frameBytesMax: Int
    /// The input not yet decoded. Invariant: empty whenever `partial` is not.
    private var input: ArraySlice<UInt8> = []
    /// The start of a frame that did not arrive whole. Invariant: fewer bytes than that
    /// frame (header + payload), and at most `headerBytes + frameBytesMax`.
    private var partial: [UInt8] = []
    /// Set by the first error; the decoder then returns nothing more.
    public private(set) var failure: MuxDecodeError?

    public init(frameBytesMax: Int) {
        precondition(frameBytesMax >= 0 && frameBytesMax <= Int(UInt32.max))
        self.frameBytesMax = frameBytesMax
    }

    /// Bytes held for an incomplete frame (the decoder's own memory, bounded).
    public var bufferedBytes: Int { partial.count }

    /// Storage reserved for the incomplete frame (0 when none is pending).
    var bufferedCapacityBytes: Int { partial.capacity }

    /// Adds bytes; then call `next()` until it returns `nil`.
    /// Precondition: the previous input was used up (`next()` returned `nil` or failed).
    public mutating func feed(_ bytes: ArraySlice<UInt8>) {
        precondition(input.isEmpty, "feed() before the previous input was decoded")
        if failure != nil { return }
        input = bytes
    }

    /// The next whole frame, a failure (once; the stream is then unusable), or `nil`
    /// when more bytes are needed.
    public mutating func next() -> Result<MuxFrame, MuxDecodeError>? {
        if failure != nil { return nil }
        if !partial.isEmpty || input.count < MuxProtocol.headerBytes {
            return nextFromPartial()
        }
        // Fast path: the whole header is in the input.
        let start = input.startIndex
        let header: MuxFrameHeader
        switch MuxFrameHeader.parse(input, at: start, frameBytesMax: frameBytesMax) {
        case .success(let parsed): header = parsed
        case .failure(let error): return fail(error)
        }
        let end = start + MuxProtocol.headerBytes + header.length
        guard end <= input.endIndex else {
            // The payload is split: gather this frame in a buffer of its own.
            partial.reserveCapacity(MuxProtocol.headerBytes + header.length)
            partial.append(contentsOf: input)
            input = []
            return nil
        }
        let payload = input[(start + MuxProtocol.headerBytes)..<end]
        // Used up: drop the reference, so the caller's buffer is unique again (reusable).
        input = end == input.endIndex ? [] : input[end...]
        return finish(header, payload)
    }

    /// Continues a frame that began in an earlier input (or whose header is still short).
    private mutating func nextFromPartial() -> Result<MuxFrame, MuxDecodeError>? {
        if partial.count < MuxProtocol.headerBytes {
            let take = min(MuxProtocol.headerBytes - partial.count, input.count)
            partial.append(contentsOf: input.prefix(take))
            input = input.dropFirst(take)
            if partial.count < MuxProtocol.headerBytes { return nil }
        }
        let header: MuxFrameHeader
        switch MuxFrameHeader.parse(partial[...], at: 0, frameBytesMax: frameBytesMax) {
        case .success(let parsed): header = parsed
        case .failure(let error): return fail(error)
        }
        let total = MuxProtocol.headerBytes + header.length
        if partial.count == MuxProtocol.headerBytes { partial.reserveCapacity(total) }
        let take = min(total - partial.count, input.count)
        partial.append(contentsOf: input.prefix(take))
        input = input.dropFirst(take)
        if partial.count < total { return nil }
        let frame = partial
        partial = []
        if input.isEmpty { input = [] }  // drop the reference to the caller's storage
        return finish(header, frame[MuxProtocol.headerBytes...])
    }

    private mutating func finish(_ header: MuxFrameHeader, _ payload: ArraySlice<UInt8>) -> Result<
        MuxFrame, MuxDecodeError
    > {
        switch header.frame(payload) {
        case .success(let frame): return .success(frame)
        case .failure(let error): return fail(error)
        }
    }

    private mutating func fail(_ error: MuxDecodeError) -> Result<MuxFrame, MuxDecodeError> {
        failure = error
        input = []
        partial = []
        return .failure(error)
    }
}

/// Why a byte stream is not a valid mux frame sequence. A value: the session that sees it
/// ends with `code` and `reason`, and so does nothing else.
public struct MuxDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `frameSize` for lengths, `protocolError` for everything else.
    public let code: MuxErrorCode
    /// What was wrong, with the offending values.
    public let reason: String

    public init(_ code: MuxErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}

/// A parsed 12-byte header whose form is valid.
struct MuxFrameHeader {
    let type: MuxFrameType
    let streamID: MuxStreamID
    let length: Int

    /// Reads and checks the header at `offset` of `bytes` (12 bytes must be there).
    static func parse(_ bytes: ArraySlice<UInt8>, at offset: Int, frameBytesMax: Int) -> Result<
        MuxFrameHeader, MuxDecodeError
    > {
        let length = Int(readUInt32(bytes, at: offset))
        let typeByte = bytes[offset + 4]
        let flags = bytes[offset + 5]
        let reserved = UInt16(bytes[offset + 6]) << 8 | UInt16(bytes[offset + 7])
        let id = MuxStreamID(readUInt32(bytes, at: offset + 8))
        guard let type = MuxFrameType(rawValue: typeByte) else {
            return .failure(MuxDecodeError(.protocolError, "unknown frame type \(typeByte)"))
        }
        if flags != 0 || reserved != 0 {
            return .failure(
                MuxDecodeError(.protocolError, "\(type) frame with flags \(flags) and reserved \(reserved) (must be 0)"))
        }
        if length > frameBytesMax {
            return .failure(
                MuxDecodeError(.frameSize, "\(type) frame of \(length) bytes exceeds the limit of \(frameBytesMax)"))
        }
        if type.isSessionLevel != (id == .session) {
            let expected = type.isSessionLevel ? "stream 0" : "a non-zero stream id"
            return .failure(MuxDecodeError(.protocolError, "\(type) frame on \(id) (needs \(expected))"))
        }
        if let problem = lengthProblem(type, length) {
            return .failure(MuxDecodeError(.frameSize, "\(type) frame of \(length) bytes (\(problem))"))
        }
        return .success(MuxFrameHeader(type: type, streamID: id, length: length))
    }

    /// What is wrong with a payload length for a type, if anything.
    private static func lengthProblem(_ type: MuxFrameType, _ length: Int) -> String? {
        switch type {
        case .hello: length < MuxProtocol.helloBytes ? "needs at least \(MuxProtocol.helloBytes)" : nil
        case .accept, .fin: length != 0 ? "needs 0" : nil
        case .data: length == 0 ? "needs at least 1" : nil
        case .window: length != 4 ? "needs 4" : nil
        case .reset: length < 4 ? "needs at least 4" : nil
        case .ping, .pong: length != 8 ? "needs 8" : nil
        case .goAway: length < 8 ? "needs at least 8" : nil
        case .open: nil
        }
    }

    /// The frame this header and its payload make.
    func frame(_ payload: ArraySlice<UInt8>) -> Result<MuxFrame, MuxDecodeError> {
        let base = payload.startIndex
        switch type {
        case .hello: return MuxFrameHeader.hello(payload).map { .hello($0) }
        case .open: return .success(.open(streamID, descriptor: payload))
        case .accept: return .success(.accept(streamID))
        case .data: return .success(.data(streamID, payload))
        case .window: return .success(.window(streamID, increment: readUInt32(payload, at: base)))
        case .fin: return .success(.fin(streamID))
        case .reset:
            let code = MuxErrorCode(readUInt32(payload, at: base))
            return .success(.reset(streamID, code, reason: String(decoding: payload.dropFirst(4), as: UTF8.self)))
        case .ping, .pong:
            let opaque = UInt64(readUInt32(payload, at: base)) << 32 | UInt64(readUInt32(payload, at: base + 4))
            return .success(type == .ping ? .ping(opaque) : .pong(opaque))
        case .goAway:
            let last = MuxStreamID(readUInt32(payload, at: base))
            let code = MuxErrorCode(readUInt32(payload, at: base + 4))
            let reason = String(decoding: payload.dropFirst(8), as: UTF8.self)
            return .success(.goAway(lastStreamID: last, code, reason: reason))
        }
    }

    /// HELLO's fixed fields; bytes after them are ignored (later versions may add fields).
    private static func hello(_ payload: ArraySlice<UInt8>) -> Result<MuxHello, MuxDecodeError> {
        let base = payload.startIndex
        guard payload.prefix(4).elementsEqual(MuxProtocol.magic) else {
            return .failure(MuxDecodeError(.protocolError, "HELLO without the WMUX magic (not a Warren mux peer)"))
        }
        guard let role = MuxRole(rawValue: payload[base + 6]) else {
            return .failure(MuxDecodeError(.protocolError, "HELLO with unknown role \(payload[base + 6])"))
        }
        guard payload[base + 7] == 0 else {
            return .failure(MuxDecodeError(.protocolError, "HELLO with reserved byte \(payload[base + 7]) (must be 0)"))
        }
        return .success(
            MuxHello(
                versionMin: payload[base + 4], versionMax: payload[base + 5], role: role,
                frameBytesMax: readUInt32(payload, at: base + 8),
                initialWindowBytes: readUInt32(payload, at: base + 12),
                maxConcurrentStreams: readUInt32(payload, at: base + 16),
                descriptorBytesMax: readUInt32(payload, at: base + 20)))
    }
}

/// A big-endian u32 at absolute index `offset` of `bytes` (4 bytes must be there).
@inline(__always)
func readUInt32(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
        | UInt32(bytes[offset + 3])
}
