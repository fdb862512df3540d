/// A tiny deterministic PRNG (SplitMix64). The core draws election timeouts from it, so
/// the same seed and the same inputs give the same run (the simulation relies on that).
public struct RaftRandom: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    /// Seeds the generator; any seed, including 0, is fine.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound` (`bound` > 0); the modulo bias is irrelevant here.
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        return next() % bound
    }
}
