/// Limits of one framed link, shared by `FrameListener` and `FrameDialer`.
public struct FrameLinkConfiguration: Sendable {
    /// Largest payload received (and sent): a longer length prefix closes the link.
    public var frameBytesMax: Int
    /// Watermarks and timeouts of the connection. `send` drops frames while pending
    /// output is at or above `highWatermarkBytes` (so pending output stays under it plus
    /// one frame). Links carry a Raft heartbeat every tick, so the idle timeout can be short.
    public var limits: ConnectionLimits

    /// Defaults: 16 MiB frames, watermarks 4 MiB / 1 MiB, handshake 5 s, idle 30 s.
    public init(
        frameBytesMax: Int = FrameFormat.defaultFrameBytesMax,
        limits: ConnectionLimits = ConnectionLimits(
            highWatermarkBytes: 4 * 1024 * 1024, lowWatermarkBytes: 1024 * 1024,
            handshakeTimeoutNanos: 5_000_000_000, idleTimeoutNanos: 30_000_000_000)
    ) {
        precondition(
            (1...FrameFormat.frameBytesMaxLimit).contains(frameBytesMax),
            "frameBytesMax \(frameBytesMax) is not in 1...\(FrameFormat.frameBytesMaxLimit)")
        self.frameBytesMax = frameBytesMax
        self.limits = limits
    }
}

/// Reconnect delays: exponential from `initialNanos`, doubling to `maxNanos`, each
/// drawn uniformly from [delay/2, delay] ("equal jitter") so peers that lost the same
/// node do not redial in lock step. Pure: the caller supplies the random unit.
public struct ReconnectBackoff: Sendable, Equatable {
    /// The first delay (before jitter).
    public var initialNanos: UInt64
    /// The largest delay (before jitter).
    public var maxNanos: UInt64
    /// Failures since the last stable link. Invariant: ≥ 0; reset by `reset()`.
    public private(set) var attempt: Int = 0

    /// 20 ms doubling to 1 s by default.
    public init(initialNanos: UInt64 = 20_000_000, maxNanos: UInt64 = 1_000_000_000) {
        precondition(initialNanos > 0 && initialNanos <= maxNanos, "need 0 < initialNanos <= maxNanos")
        self.initialNanos = initialNanos
        self.maxNanos = maxNanos
    }

    /// The un-jittered delay for the current attempt.
    public var ceilingNanos: UInt64 {
        var delay = initialNanos
        for _ in 0..<min(attempt, 63) where delay < maxNanos { delay = delay &* 2 }
        return min(delay, maxNanos)
    }

    /// The next delay, given `unit` in [0, 1]; advances the attempt count.
    public mutating func nextDelayNanos(unit: Double) -> UInt64 {
        let ceiling = ceilingNanos
        attempt += 1
        let half = ceiling / 2
        return half + UInt64(Double(ceiling - half) * min(max(unit, 0), 1))
    }

    /// Back to `initialNanos` (after a link stayed up).
    public mutating func reset() { attempt = 0 }
}
