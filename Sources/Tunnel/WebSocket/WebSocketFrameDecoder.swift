/// An incremental, I/O-free WebSocket decoder (RFC 6455 §5): bytes in (split anywhere),
/// whole data messages and control frames out, or one `WebSocketProtocolError`.
///
/// Not thread-safe: a value owned by one connection. Use: `append` what was read, then
/// call `next()` until it says `.needMoreData`. After `.failed` it stays failed; after a
/// Close frame it is `.closed` and discards further input (§5.5.1: nothing follows a Close).
///
/// Enforced, with the close code the channel sends back:
/// - 1002: a reserved bit set (no extension is ever negotiated), a reserved opcode, a
///   control frame fragmented or over 125 bytes, an unmasked frame at the server or a
///   masked one at the client (§5.1), a length not in its shortest form or with the top
///   bit set (§5.2), a continuation with no message started or a new data frame inside
///   a fragmented message (§5.4), a Close payload of one byte or a code not allowed on
///   the wire (§7.4).
/// - 1007: a text message or a close reason that is not UTF-8 (§8.1).
/// - 1009: a frame announcing more than `frameBytesMax`, or a message whose frames add up
///   to more than `messageBytesMax` — decided from the header, before the payload is read.
///
/// Memory: the input buffer holds at most one `append` plus a partial header (14 bytes);
/// the message being assembled holds at most `messageBytesMax`; a control payload at
/// most 125 bytes. Any input ends in messages, `.needMoreData` or an error; never a trap.
public struct WebSocketFrameDecoder: Sendable {
    /// Which end decodes: a server expects masked frames, a client unmasked ones.
    public enum Side: Sendable, Equatable { case server, client }

    /// What `next()` found.
    public enum Outcome: Sendable, Equatable {
        /// A complete data message (a text one has been checked to be UTF-8).
        case message(WebSocketMessage)
        /// A Ping; answer with a Pong carrying the same payload (§5.5.2).
        case ping([UInt8])
        /// A Pong.
        case pong([UInt8])
        /// A Close frame: its code (nil when the payload was empty, reported as 1005)
        /// and reason. The decoder is now closed.
        case close(code: WebSocketCloseCode?, reason: String)
        /// Nothing complete yet (or closed): append more bytes.
        case needMoreData
        /// The peer broke the protocol; send a Close with `error.closeCode` and close.
        case failed(WebSocketProtocolError)
    }

    /// A parsed frame header.
    struct FrameHeader: Sendable {
        var fin: Bool
        var opcode: WebSocketOpcode
        var maskKey: UInt32?
        var length: Int
    }

    private enum State: Sendable {
        case header
        /// Reading the payload of `frame`; `remaining` bytes still to come.
        case payload(FrameHeader, remaining: Int)
        case closed
        case failed(WebSocketProtocolError)
    }

    public let side: Side
    /// Largest payload one frame may announce. Larger → 1009.
    public let frameBytesMax: Int
    /// Largest data message, the sum of its frames. Larger → 1009.
    public let messageBytesMax: Int

    /// Appended bytes not yet consumed start at `readIndex`.
    /// Invariant: `readIndex <= buffer.count`.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var state = State.header
    /// Opcode (text or binary) of the data message being assembled; nil between messages.
    /// Invariant: `message` is empty when this is nil; `message.count <= messageBytesMax`.
    private var messageOpcode: WebSocketOpcode?
    private var message: [UInt8] = []
    /// Payload of the control frame being read. Invariant: count <= 125.
    private var control: [UInt8] = []

    public init(side: Side, frameBytesMax: Int = 16 * 1024 * 1024, messageBytesMax: Int = 16 * 1024 * 1024) {
        precondition(frameBytesMax >= 125 && messageBytesMax >= 0, "frameBytesMax must be at least 125 (control frames)")
        self.side = side
        self.frameBytesMax = frameBytesMax
        self.messageBytesMax = messageBytesMax
    }

    /// Bytes appended and not yet consumed.
    public var bufferedBytes: Int { buffer.count - readIndex }

    /// True once a Close frame was decoded.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Queues bytes for `next()`. After a Close or a failure they are discarded.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, acceptsInput else { return }
        var rest = bytes
        // A data frame's payload continuing with nothing buffered before it goes straight
        // into the message: one copy instead of two (buffer, then message). The outcomes
        // are the same as through the buffer; `next()` finishes a frame completed here.
        if bufferedBytes == 0, case .payload(let header, let remaining) = state, !header.opcode.isControl,
            remaining > 0
        {
            let n = min(remaining, rest.count)
            Self.appendUnmasked(
                UnsafeRawBufferPointer(rebasing: rest[0..<n]), key: header.maskKey, offset: header.length - remaining,
                to: &message)
            state = .payload(header, remaining: remaining - n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            guard rest.count > 0 else { return }
        }
        compact()
        buffer.append(contentsOf: rest)
    }

    /// Queues bytes for `next()`. After a Close or a failure they are discarded.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends `bytes` and decodes everything complete: the outcomes in order, ending
    /// with the failure that stopped decoding, if any (never `.needMoreData`).
    public mutating func feed(_ bytes: [UInt8]) -> [Outcome] {
        append(bytes)
        var out: [Outcome] = []
        while true {
            let outcome = next()
            if outcome == .needMoreData { return out }
            out.append(outcome)
            if case .failed = outcome { return out }
        }
    }

    /// Decodes the next message or control frame out of the buffered bytes.
    public mutating func next() -> Outcome {
        while true {
            switch state {
            case .failed(let error): return .failed(error)
            case .closed: return .needMoreData
            case .header:
                guard let header = parseHeader() else {
                    if case .failed(let error) = state { return .failed(error) }
                    releaseIfConsumed()
                    return .needMoreData
                }
                state = .payload(header, remaining: header.length)
                if !header.opcode.isControl && message.isEmpty && header.length > 0 {
                    // One allocation for the message's first frame instead of regrowing as
                    // records arrive (capped: the bytes have not arrived yet).
                    message.reserveCapacity(min(header.length, Self.reserveBytesMax))
                }
                if header.length == 0, let outcome = finishFrame(header) { return outcome }
            case .payload(let header, let remaining):
                let n = min(remaining, bufferedBytes)
                guard n > 0 || remaining == 0 else { return .needMoreData }
                takePayload(header, from: header.length - remaining, count: n)
                if remaining - n > 0 {
                    state = .payload(header, remaining: remaining - n)
                    releaseIfConsumed()
                    return .needMoreData
                }
                if let outcome = finishFrame(header) { return outcome }
            }
        }
    }

    // MARK: header (§5.2)

    /// The next frame header, consuming it; nil when incomplete or invalid (then `state`
    /// is `.failed`). Checks on the first two bytes come first, so the error does not
    /// depend on how the input was split.
    private mutating func parseHeader() -> FrameHeader? {
        guard bufferedBytes >= 2 else { return nil }
        let b0 = buffer[readIndex], b1 = buffer[readIndex + 1]
        guard b0 & 0x70 == 0 else {
            return fail(.protocolError, "reserved bits 0x\(String(b0 & 0x70, radix: 16)) set; no extension was negotiated")
        }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            return fail(.protocolError, "reserved opcode 0x\(String(b0 & 0x0F, radix: 16))")
        }
        let fin = b0 & 0x80 != 0
        let masked = b1 & 0x80 != 0
        let length7 = Int(b1 & 0x7F)
        if let error = checkFrameShape(opcode: opcode, fin: fin, masked: masked, length7: length7) {
            state = .failed(error)
            return nil
        }
        let lengthBytes = length7 == 126 ? 2 : length7 == 127 ? 8 : 0
        let headerBytes = 2 + lengthBytes + (masked ? 4 : 0)
        guard bufferedBytes >= headerBytes else { return nil }
        var length = UInt64(length7)
        if lengthBytes > 0 {
            length = 0
            for i in 0..<lengthBytes { length = length << 8 | UInt64(buffer[readIndex + 2 + i]) }
            if lengthBytes == 8 && length >> 63 != 0 { return fail(.protocolError, "64-bit length with its top bit set") }
            let minimum: UInt64 = lengthBytes == 2 ? 126 : 0x1_0000
            guard length >= minimum else {
                return fail(.protocolError, "length \(length) not in its shortest encoding (\(lengthBytes)-byte form)")
            }
        }
        guard length <= UInt64(frameBytesMax) else {
            return fail(.messageTooBig, "frame of \(length) bytes is over the limit of \(frameBytesMax)")
        }
        if !opcode.isControl {
            let total = UInt64(message.count) + length
            guard total <= UInt64(messageBytesMax) else {
                return fail(.messageTooBig, "message of at least \(total) bytes is over the limit of \(messageBytesMax)")
            }
        }
        var maskKey: UInt32?
        if masked {
            let at = readIndex + 2 + lengthBytes
            maskKey = UInt32(buffer[at]) << 24 | UInt32(buffer[at + 1]) << 16 | UInt32(buffer[at + 2]) << 8
                | UInt32(buffer[at + 3])
        }
        readIndex += headerBytes
        if !opcode.isControl && opcode != .continuation { messageOpcode = opcode }
        return FrameHeader(fin: fin, opcode: opcode, maskKey: maskKey, length: Int(length))
    }

    /// The rules that need only the first two bytes: masking by side (§5.1), control
    /// frames (§5.5), fragmentation order (§5.4).
    private func checkFrameShape(opcode: WebSocketOpcode, fin: Bool, masked: Bool, length7: Int)
        -> WebSocketProtocolError?
    {
        switch (side, masked) {
        case (.server, false): return WebSocketProtocolError(.protocolError, "unmasked frame from a client")
        case (.client, true): return WebSocketProtocolError(.protocolError, "masked frame from a server")
        default: break
        }
        if opcode.isControl {
            if !fin { return WebSocketProtocolError(.protocolError, "fragmented control frame (opcode \(opcode))") }
            if length7 > 125 {
                return WebSocketProtocolError(.protocolError, "control frame (opcode \(opcode)) over 125 bytes")
            }
        } else if opcode == .continuation {
            if messageOpcode == nil { return WebSocketProtocolError(.protocolError, "continuation frame with no message started") }
        } else if messageOpcode != nil {
            return WebSocketProtocolError(.protocolError, "new \(opcode) frame inside a fragmented message")
        }
        return nil
    }

    // MARK: payload

    /// Moves `count` buffered bytes into the message or control payload, unmasking them
    /// as bytes `offset…` of the frame's payload.
    private mutating func takePayload(_ header: FrameHeader, from offset: Int, count: Int) {
        guard count > 0 else { return }
        let chunk = buffer[readIndex..<readIndex + count]
        readIndex += count
        if header.opcode.isControl {
            Self.appendUnmasked(chunk, key: header.maskKey, offset: offset, to: &control)
        } else {
            Self.appendUnmasked(chunk, key: header.maskKey, offset: offset, to: &message)
        }
    }

    private static func appendUnmasked(
        _ chunk: some Collection<UInt8>, key: UInt32?, offset: Int, to out: inout [UInt8]
    ) {
        let start = out.count
        out.append(contentsOf: chunk)
        guard let key else { return }
        out.withUnsafeMutableBytes { all in
            WebSocketMask.apply(UnsafeMutableRawBufferPointer(rebasing: all[start...]), key: key, offset: offset)
        }
    }

    /// The outcome of a frame whose payload is complete; nil for a non-final data frame.
    private mutating func finishFrame(_ header: FrameHeader) -> Outcome? {
        state = .header
        switch header.opcode {
        case .ping: return .ping(takeControl())
        case .pong: return .pong(takeControl())
        case .close: return closeOutcome(takeControl())
        case .continuation, .text, .binary:
            guard header.fin, let opcode = messageOpcode else { return nil }
            let bytes = message
            message = []
            messageOpcode = nil
            if opcode == .binary { return .message(.binary(bytes)) }
            guard String(validating: bytes, as: UTF8.self) != nil else {
                return .failed(failWith(.invalidPayload, "text message of \(bytes.count) bytes is not valid UTF-8"))
            }
            return .message(.text(bytes))
        }
    }

    private mutating func takeControl() -> [UInt8] {
        let payload = control
        control = []
        return payload
    }

    /// A Close payload: empty, or a valid code then a UTF-8 reason (§5.5.1, §7.4).
    private mutating func closeOutcome(_ payload: [UInt8]) -> Outcome {
        if payload.isEmpty {
            enterClosed()
            return .close(code: nil, reason: "")
        }
        guard payload.count >= 2 else { return .failed(failWith(.protocolError, "close payload of 1 byte")) }
        let code = WebSocketCloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnWire else { return .failed(failWith(.protocolError, "close code \(code) is not allowed")) }
        guard let reason = String(validating: payload[2...], as: UTF8.self) else {
            return .failed(failWith(.invalidPayload, "close reason is not valid UTF-8"))
        }
        enterClosed()
        return .close(code: code, reason: reason)
    }

    // MARK: plumbing

    private var acceptsInput: Bool {
        switch state {
        case .closed, .failed: false
        default: true
        }
    }

    private mutating func enterClosed() {
        state = .closed
        buffer = []
        readIndex = 0
        message = []
        messageOpcode = nil
    }

    private mutating func fail(_ code: WebSocketCloseCode, _ message: String) -> FrameHeader? {
        _ = failWith(code, message)
        return nil
    }

    private mutating func failWith(_ code: WebSocketCloseCode, _ text: String) -> WebSocketProtocolError {
        let error = WebSocketProtocolError(code, text)
        state = .failed(error)
        buffer = []
        readIndex = 0
        message = []
        control = []
        return error
    }

    /// Most bytes reserved for a message from its first frame's announced length.
    static let reserveBytesMax = 1024 * 1024

    /// Frees a large input buffer once everything in it was consumed, so a connection
    /// between reads holds no read-sized buffer.
    private mutating func releaseIfConsumed() {
        if readIndex == buffer.count && buffer.capacity > 16 * 1024 {
            buffer = []
            readIndex = 0
        }
    }

    /// Drops consumed bytes: all of them when everything was consumed (freeing a large
    /// buffer so an idle connection holds none), else the consumed prefix once it is
    /// at least half the buffer.
    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 16 * 1024)
            readIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }
}
