/// One end's settings for a mux session; the part the peer must know travels in HELLO.
///
/// A value; validated by `MuxSession.init` (a bad configuration is a programmer mistake).
public struct MuxConfiguration: Sendable, Equatable {
    /// Which end this is (decides stream-id parity).
    public var role: MuxRole
    /// The largest frame payload this end accepts, advertised in HELLO; the peer splits
    /// DATA to fit. Between `MuxProtocol.frameBytesMin` and `MuxProtocol.frameBytesLimit`.
    public var frameBytesMax: Int
    /// The credit this end grants the peer on every stream before any WINDOW frame, in
    /// bytes. It is this end's memory bound per stream: the peer may have at most this
    /// much (plus later grants) delivered and not yet `consumed`. 1 … 2^31 − 1.
    public var initialWindowBytes: Int
    /// How many streams the peer may have open towards this end at once; one more OPEN
    /// is refused with RST `refused`. 0 … 2^32 − 1.
    public var maxConcurrentStreams: Int
    /// The largest OPEN descriptor this end accepts; a larger one is refused with RST
    /// `frameSize`. At most `frameBytesMax`.
    public var descriptorBytesMax: Int
    /// Bytes left free at the front of every buffer `takeOutput()` returns, so the
    /// transport can write its own header there (a WebSocket frame header needs at most
    /// 14) and hand the whole buffer to TLS in one write.
    public var outputHeadroomBytes: Int

    public init(
        role: MuxRole,
        frameBytesMax: Int = 64 * 1024,
        initialWindowBytes: Int = 256 * 1024,
        maxConcurrentStreams: Int = 1024,
        descriptorBytesMax: Int = 4096,
        outputHeadroomBytes: Int = 0
    ) {
        self.role = role
        self.frameBytesMax = frameBytesMax
        self.initialWindowBytes = initialWindowBytes
        self.maxConcurrentStreams = maxConcurrentStreams
        self.descriptorBytesMax = descriptorBytesMax
        self.outputHeadroomBytes = outputHeadroomBytes
    }

    /// Why the configuration is unusable, or `nil` when it is fine.
    public var problem: String? {
        if frameBytesMax < MuxProtocol.frameBytesMin || frameBytesMax > MuxProtocol.frameBytesLimit {
            return "frameBytesMax \(frameBytesMax) is outside \(MuxProtocol.frameBytesMin)…\(MuxProtocol.frameBytesLimit)"
        }
        if initialWindowBytes < 1 || initialWindowBytes > MuxProtocol.windowBytesLimit {
            return "initialWindowBytes \(initialWindowBytes) is outside 1…\(MuxProtocol.windowBytesLimit)"
        }
        if maxConcurrentStreams < 0 || maxConcurrentStreams > Int(UInt32.max) {
            return "maxConcurrentStreams \(maxConcurrentStreams) is outside 0…\(UInt32.max)"
        }
        if descriptorBytesMax < 0 || descriptorBytesMax > frameBytesMax {
            return "descriptorBytesMax \(descriptorBytesMax) is outside 0…frameBytesMax (\(frameBytesMax))"
        }
        if outputHeadroomBytes < 0 || outputHeadroomBytes > 64 {
            return "outputHeadroomBytes \(outputHeadroomBytes) is outside 0…64"
        }
        return nil
    }

    /// The HELLO this end sends.
    var hello: MuxHello {
        MuxHello(
            versionMin: MuxProtocol.versionMin,
            versionMax: MuxProtocol.versionMax,
            role: role,
            frameBytesMax: UInt32(frameBytesMax),
            initialWindowBytes: UInt32(initialWindowBytes),
            maxConcurrentStreams: UInt32(maxConcurrentStreams),
            descriptorBytesMax: UInt32(descriptorBytesMax)
        )
    }
}

/// Constants of the wire format.
public enum MuxProtocol {
    /// The oldest protocol version this build speaks.
    public static let versionMin: UInt8 = 1
    /// The newest protocol version this build speaks.
    public static let versionMax: UInt8 = 1
    /// Bytes of every frame header.
    public static let headerBytes = 12
    /// HELLO's magic, ASCII `WMUX`.
    public static let magic: [UInt8] = [0x57, 0x4D, 0x55, 0x58]
    /// Bytes of a version-1 HELLO payload (later versions may append fields).
    public static let helloBytes = 24
    /// The smallest `frameBytesMax` an end may advertise (16 KiB): every control frame
    /// this implementation sends fits, so nothing needs to be split before HELLO.
    public static let frameBytesMin = 16 * 1024
    /// The largest `frameBytesMax` an end may advertise (1 MiB).
    public static let frameBytesLimit = 1024 * 1024
    /// The largest a window may grow to: 2^31 − 1, as in HTTP/2.
    public static let windowBytesLimit = Int(Int32.max)
    /// RST and GOAWAY reasons longer than this are cut (at a character boundary).
    public static let reasonBytesMax = 256
}

/// The settings one end announces in its HELLO (docs/PROTOCOL.md, "Mux" → HELLO).
public struct MuxHello: Sendable, Equatable {
    public var versionMin: UInt8
    public var versionMax: UInt8
    public var role: MuxRole
    /// The largest frame payload the sender accepts.
    public var frameBytesMax: UInt32
    /// The credit the sender grants on each stream before any WINDOW frame.
    public var initialWindowBytes: UInt32
    /// How many streams the receiver may have open towards the sender at once.
    public var maxConcurrentStreams: UInt32
    /// The largest OPEN descriptor the sender accepts.
    public var descriptorBytesMax: UInt32

    public init(
        versionMin: UInt8, versionMax: UInt8, role: MuxRole, frameBytesMax: UInt32,
        initialWindowBytes: UInt32, maxConcurrentStreams: UInt32, descriptorBytesMax: UInt32
    ) {
        self.versionMin = versionMin
        self.versionMax = versionMax
        self.role = role
        self.frameBytesMax = frameBytesMax
        self.initialWindowBytes = initialWindowBytes
        self.maxConcurrentStreams = maxConcurrentStreams
        self.descriptorBytesMax = descriptorBytesMax
    }
}
