/// A frame's opcode (RFC 6455 §5.2, §11.8). Values 0x3–0x7 and 0xB–0xF are reserved
/// and refused by the decoder (1002).
///
/// A value type, safe to share between threads.
public enum WebSocketOpcode: UInt8, Sendable, Equatable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong: at most 125 payload bytes and never fragmented (§5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// A close status code (RFC 6455 §7.4). Any 16-bit value can be represented; only
/// `isValidOnWire` ones may appear in a Close frame.
///
/// A value type, safe to share between threads.
public struct WebSocketCloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normal = WebSocketCloseCode(1000)
    /// 1001: the endpoint is going away (server shutdown, drain).
    public static let goingAway = WebSocketCloseCode(1001)
    /// 1002: the peer broke the framing rules.
    public static let protocolError = WebSocketCloseCode(1002)
    /// 1003: a message of a type this endpoint does not accept (text, for Warren by default).
    public static let unsupportedData = WebSocketCloseCode(1003)
    /// 1005: reported locally when a Close frame carried no code; never sent.
    public static let noStatusReceived = WebSocketCloseCode(1005)
    /// 1006: reported locally when the connection ended without a Close frame; never sent.
    public static let abnormalClosure = WebSocketCloseCode(1006)
    /// 1007: a text message or close reason that is not UTF-8.
    public static let invalidPayload = WebSocketCloseCode(1007)
    /// 1008: a message that violates the endpoint's policy.
    public static let policyViolation = WebSocketCloseCode(1008)
    /// 1009: a frame or message over the endpoint's size limit.
    public static let messageTooBig = WebSocketCloseCode(1009)
    /// 1011: the endpoint hit an unexpected condition.
    public static let internalError = WebSocketCloseCode(1011)

    /// Whether the code may be sent in a Close frame: 1000–1003, 1007–1014 (IANA
    /// registry) and 3000–4999 (libraries and applications). 1004–1006, 1015 and
    /// everything else is refused with 1002 when received (§7.4.1, §7.4.2).
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    public var description: String { String(rawValue) }
}

/// A data message (text or binary), reassembled from its frames.
///
/// A value type, safe to share between threads.
public enum WebSocketMessage: Sendable, Equatable {
    /// A binary message: the payload as sent.
    case binary([UInt8])
    /// A text message: the payload, checked to be valid UTF-8 (§8.1), as bytes.
    case text([UInt8])

    /// The payload bytes, whichever the kind.
    public var bytes: [UInt8] {
        switch self {
        case .binary(let bytes), .text(let bytes): bytes
        }
    }
}
