/// One mux frame, decoded or to be encoded (docs/PROTOCOL.md, "Mux" → frames).
///
/// Pure values. Payload slices (`descriptor`, DATA bytes) may share storage with the
/// buffer they were decoded from: no copy is made.
public enum MuxFrame: Sendable, Equatable {
    /// The first frame each end sends: versions, role and limits.
    case hello(MuxHello)
    /// Opens a stream; the descriptor (what to connect to) is opaque to the mux.
    case open(MuxStreamID, descriptor: ArraySlice<UInt8>)
    /// The receiver of OPEN took the stream (its target is connected).
    case accept(MuxStreamID)
    /// Stream bytes; at least one.
    case data(MuxStreamID, ArraySlice<UInt8>)
    /// Grants the sender of DATA `increment` more bytes on the stream.
    case window(MuxStreamID, increment: UInt32)
    /// The sender will send no more DATA on the stream (half-close).
    case fin(MuxStreamID)
    /// Ends the stream in both directions at once.
    case reset(MuxStreamID, MuxErrorCode, reason: String)
    /// Asks for a PONG carrying the same 8 opaque bytes.
    case ping(UInt64)
    /// Answers a PING.
    case pong(UInt64)
    /// No stream above `lastStreamID` opened by the receiver was or will be processed;
    /// with a code other than `noError` the session is over.
    case goAway(lastStreamID: MuxStreamID, MuxErrorCode, reason: String)

    /// The frame's type.
    public var type: MuxFrameType {
        switch self {
        case .hello: .hello
        case .open: .open
        case .accept: .accept
        case .data: .data
        case .window: .window
        case .fin: .fin
        case .reset: .reset
        case .ping: .ping
        case .pong: .pong
        case .goAway: .goAway
        }
    }

    /// The stream the frame belongs to (`MuxStreamID.session` for session frames).
    public var streamID: MuxStreamID {
        switch self {
        case .hello, .ping, .pong, .goAway: .session
        case .open(let id, _), .accept(let id), .data(let id, _), .window(let id, _), .fin(let id),
            .reset(let id, _, _):
            id
        }
    }

    /// Appends the encoded frame (header, then payload) to `buffer`.
    /// Precondition: a stream frame has a non-zero id; DATA is not empty; the payload
    /// fits in 32 bits. Reasons are cut to `MuxProtocol.reasonBytesMax`.
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case .hello(let hello):
            MuxFrame.appendHeader(.hello, .session, length: MuxProtocol.helloBytes, to: &buffer)
            buffer.append(contentsOf: MuxProtocol.magic)
            buffer.append(contentsOf: [hello.versionMin, hello.versionMax, hello.role.rawValue, 0])
            for value in [hello.frameBytesMax, hello.initialWindowBytes, hello.maxConcurrentStreams,
                          hello.descriptorBytesMax] {
                MuxFrame.appendUInt32(value, to: &buffer)
            }
        case .open(let id, let descriptor):
            MuxFrame.appendHeader(.open, id, length: descriptor.count, to: &buffer)
            buffer.append(contentsOf: descriptor)
        case .accept(let id):
            MuxFrame.appendHeader(.accept, id, length: 0, to: &buffer)
        case .data(let id, let bytes):
            precondition(!bytes.isEmpty, "DATA carries at least one byte")
            MuxFrame.appendHeader(.data, id, length: bytes.count, to: &buffer)
            buffer.append(contentsOf: bytes)
        case .window(let id, let increment):
            MuxFrame.appendHeader(.window, id, length: 4, to: &buffer)
            MuxFrame.appendUInt32(increment, to: &buffer)
        case .fin(let id):
            MuxFrame.appendHeader(.fin, id, length: 0, to: &buffer)
        case .reset(let id, let code, let reason):
            let text = MuxFrame.reasonBytes(reason)
            MuxFrame.appendHeader(.reset, id, length: 4 + text.count, to: &buffer)
            MuxFrame.appendUInt32(code.rawValue, to: &buffer)
            buffer.append(contentsOf: text)
        case .ping(let opaque), .pong(let opaque):
            MuxFrame.appendHeader(type, .session, length: 8, to: &buffer)
            MuxFrame.appendUInt32(UInt32(truncatingIfNeeded: opaque >> 32), to: &buffer)
            MuxFrame.appendUInt32(UInt32(truncatingIfNeeded: opaque), to: &buffer)
        case .goAway(let last, let code, let reason):
            let text = MuxFrame.reasonBytes(reason)
            MuxFrame.appendHeader(.goAway, .session, length: 8 + text.count, to: &buffer)
            MuxFrame.appendUInt32(last.rawValue, to: &buffer)
            MuxFrame.appendUInt32(code.rawValue, to: &buffer)
            buffer.append(contentsOf: text)
        }
    }

    /// The frame as a new byte array.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    // MARK: - Header

    /// Writes a 12-byte frame header at `destination` (which must have 12 writable
    /// bytes): the zero-copy path writes DATA's payload first and its header in front.
    public static func writeHeader(
        _ type: MuxFrameType, _ id: MuxStreamID, length: Int, to destination: UnsafeMutableRawPointer
    ) {
        precondition(length >= 0 && length <= Int(UInt32.max), "frame payload of \(length) bytes")
        precondition(type.isSessionLevel == (id == .session), "\(type) frame on \(id)")
        let length = UInt32(length)
        let bytes: (UInt32, UInt8, UInt8, UInt16, UInt32) = (length.bigEndian, type.rawValue, 0, 0, id.rawValue.bigEndian)
        // Safe: the caller provides 12 writable bytes; the tuple's 12 bytes are laid out
        // without padding (4 + 1 + 1 + 2 + 4, each field at its natural alignment).
        withUnsafeBytes(of: bytes) { destination.copyMemory(from: $0.baseAddress!, byteCount: 12) }
    }

    /// Appends a 12-byte frame header to `buffer`.
    static func appendHeader(_ type: MuxFrameType, _ id: MuxStreamID, length: Int, to buffer: inout [UInt8]) {
        precondition(length >= 0 && length <= Int(UInt32.max), "frame payload of \(length) bytes")
        precondition(type.isSessionLevel == (id == .session), "\(type) frame on \(id)")
        let length = UInt32(length)
        let bytes: (UInt32, UInt8, UInt8, UInt16, UInt32) = (length.bigEndian, type.rawValue, 0, 0, id.rawValue.bigEndian)
        // Safe: 12 bytes of a padding-free tuple (see writeHeader).
        withUnsafeBytes(of: bytes) { buffer.append(contentsOf: $0) }
    }

    static func appendUInt32(_ value: UInt32, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    /// `reason` as UTF-8, cut at a character boundary to `MuxProtocol.reasonBytesMax`.
    static func reasonBytes(_ reason: String) -> [UInt8] {
        var out: [UInt8] = []
        for scalar in reason.unicodeScalars {
            let utf8 = Array(String(scalar).utf8)
            if out.count + utf8.count > MuxProtocol.reasonBytesMax { break }
            out.append(contentsOf: utf8)
        }
        return out
    }
}
