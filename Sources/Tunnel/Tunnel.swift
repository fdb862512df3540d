/// The wire: event loops, non-blocking sockets, TLS through OpenSSL, and the cluster PKI.
/// `Tunnel` knows nothing of Raft; `Node` composes it with `Consensus`.
public enum TunnelModule {
    /// Version of the wire formats this module speaks.
    public static let version = "0.1.0"
}
