/// Raft: a pure deterministic core, its write-ahead log and snapshot store, and the
/// binary codec of its messages. `Consensus` knows nothing of sockets or TLS.
public enum ConsensusModule {
    /// Version of the Raft wire codec.
    public static let codecVersion: UInt8 = 1
}
