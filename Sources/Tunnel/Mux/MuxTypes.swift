/// Identifiers and codes of the stream multiplexing protocol (docs/PROTOCOL.md, "Mux").
///
/// All of these are plain values: `Sendable`, no I/O.

/// A stream's identifier within one mux session.
///
/// Id 0 names the session itself (HELLO, PING, PONG, GOAWAY). The client opens odd ids
/// (1, 3, 5, …), the server even ids (2, 4, …), each strictly increasing, so an id is
/// never reused within a session.
public struct MuxStreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id as it appears on the wire.
    public let rawValue: UInt32

    /// The session-level id (0).
    public static let session = MuxStreamID(0)

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// Which role opens streams with this id (`nil` for the session id 0).
    public var opener: MuxRole? {
        if rawValue == 0 { return nil }
        return rawValue & 1 == 1 ? .client : .server
    }

    public static func < (lhs: MuxStreamID, rhs: MuxStreamID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "stream \(rawValue)" }
}

/// Which end of a session this is. It decides the parity of the stream ids it opens;
/// the two ends of a session must have different roles (checked at HELLO).
///
/// A connector is the client of its WebSocket session; on a node-to-node link the
/// dialling node is the client.
public enum MuxRole: UInt8, Sendable, Equatable {
    /// Opens odd stream ids.
    case client = 1
    /// Opens even stream ids.
    case server = 2

    /// The id of the first stream this role opens.
    var firstStreamID: UInt32 { self == .client ? 1 : 2 }
}

/// Why a stream or a session ended, as sent in RST and GOAWAY. A struct so that
/// applications can add codes (values ≥ 0x100 are the application's) without a
/// protocol change.
public struct MuxErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The code as it appears on the wire.
    public let rawValue: UInt32

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// A graceful end (GOAWAY for draining; RST when nothing went wrong).
    public static let noError = MuxErrorCode(0)
    /// The peer broke a rule of the protocol (a malformed or unexpected frame).
    public static let protocolError = MuxErrorCode(1)
    /// Something failed inside the sender, not caused by the peer.
    public static let internalError = MuxErrorCode(2)
    /// The peer sent more than its window, or a window update overflowed 2^31 − 1.
    public static let flowControl = MuxErrorCode(3)
    /// The stream was not processed: too many streams, the session is going away, or
    /// the opener's descriptor was refused. Safe to retry elsewhere.
    public static let refused = MuxErrorCode(4)
    /// The application no longer wants the stream (the local TCP side closed abruptly).
    public static let cancel = MuxErrorCode(5)
    /// A frame or a descriptor was larger than the receiver allows, or had the wrong length.
    public static let frameSize = MuxErrorCode(6)
    /// A frame arrived for a direction the peer had already closed (data after FIN).
    public static let streamClosed = MuxErrorCode(7)
    /// The stream's target could not be reached (connect refused, timed out, no route).
    public static let connectFailed = MuxErrorCode(8)
    /// The stream's target is not allowed (no mapping permits it).
    public static let notPermitted = MuxErrorCode(9)
    /// The peers share no protocol version.
    public static let unsupportedVersion = MuxErrorCode(10)
    /// The tunnel carrying the session was closed, expired or revoked.
    public static let tunnelClosed = MuxErrorCode(11)

    public var description: String {
        switch self {
        case .noError: "no error"
        case .protocolError: "protocol error"
        case .internalError: "internal error"
        case .flowControl: "flow control error"
        case .refused: "refused"
        case .cancel: "cancelled"
        case .frameSize: "frame size error"
        case .streamClosed: "stream closed"
        case .connectFailed: "connect failed"
        case .notPermitted: "not permitted"
        case .unsupportedVersion: "unsupported version"
        case .tunnelClosed: "tunnel closed"
        default: "code \(rawValue)"
        }
    }
}

/// Frame types (docs/PROTOCOL.md, "Mux" → frame types).
public enum MuxFrameType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case open = 2
    case accept = 3
    case data = 4
    case window = 5
    case fin = 6
    case reset = 7
    case ping = 8
    case pong = 9
    case goAway = 10

    /// The name used in docs and error reasons (`DATA`, `GOAWAY`, …).
    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .open: "OPEN"
        case .accept: "ACCEPT"
        case .data: "DATA"
        case .window: "WINDOW"
        case .fin: "FIN"
        case .reset: "RST"
        case .ping: "PING"
        case .pong: "PONG"
        case .goAway: "GOAWAY"
        }
    }

    /// Whether frames of this type name the session (stream id 0) rather than a stream.
    public var isSessionLevel: Bool {
        switch self {
        case .hello, .ping, .pong, .goAway: true
        case .open, .accept, .data, .window, .fin, .reset: false
        }
    }
}
