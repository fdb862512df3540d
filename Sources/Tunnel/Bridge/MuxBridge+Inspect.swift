#if canImport(Glibc)
import Glibc
#endif

/// One live stream of a bridge as an operator sees it (`sessions list`).
public struct MuxBridgeStreamInfo: Sendable, Equatable {
    /// The stream id on this bridge's session.
    public var stream: UInt32
    /// The descriptor its OPEN carried.
    public var descriptor: [UInt8]
    /// The client's address (a stream this end carried) or the target's (dialled).
    public var remote: String
    /// Whether this end carried it (a client socket accepted here).
    public var isCarried: Bool
    /// Unix ms when the stream was created.
    public var openedAtMillis: Int64
    /// Bytes from the peer to the socket, and from the socket to the peer, so far.
    public var bytesIn: UInt64
    public var bytesOut: UInt64
}

/// Listing and ending single streams from outside the loop (the admin API's sessions).
extension MuxBridge {
    /// The bridge's live streams, reported on the bridge's loop. Safe from any thread.
    public func streamInfo(_ completion: @escaping @Sendable ([MuxBridgeStreamInfo]) -> Void) {
        guard loop.inEventLoop else {
            loop.execute { [self] in streamInfo(completion) }
            return
        }
        let list = streams.values.filter(\.isActive).map { s in
            MuxBridgeStreamInfo(
                stream: s.id.rawValue, descriptor: s.descriptor, remote: s.remote, isCarried: s.isCarried,
                openedAtMillis: s.openedAtMillis, bytesIn: s.bytesIn, bytesOut: s.bytesOut)
        }
        completion(list.sorted { $0.stream < $1.stream })
    }

    /// Ends one stream now (its socket closes, the peer gets a reset with `reason`);
    /// `completion` gets false when no such live stream exists. Safe from any thread.
    public func endStream(_ stream: UInt32, reason: String, _ completion: @escaping @Sendable (Bool) -> Void) {
        guard loop.inEventLoop else {
            loop.execute { [self] in endStream(stream, reason: reason, completion) }
            return
        }
        guard let s = streams[MuxStreamID(stream)], s.isActive else { return completion(false) }
        if s.closeReason == nil { s.closeReason = reason }
        s.connection.close()
        completion(true)
    }

    /// Unix time in ms from the wall clock (`CLOCK_REALTIME`).
    static func wallClockMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

extension MuxBridge {
    /// Ends now every live stream whose OPEN descriptor satisfies `matches` (a relay
    /// link's streams of a tunnel that closed). Safe from any thread.
    public func endStreams(reason: String, where matches: @escaping @Sendable ([UInt8]) -> Bool) {
        guard loop.inEventLoop else {
            loop.execute { [self] in endStreams(reason: reason, where: matches) }
            return
        }
        for stream in streams.values where matches(stream.descriptor) {
            if stream.closeReason == nil { stream.closeReason = reason }
            stream.connection.close()
        }
    }
}
