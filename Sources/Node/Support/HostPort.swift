/// The host of a configured `host:port` or `[v6]:port`, as written (a DNS name stays a
/// name): what a TLS client must check the server's certificate against. Resolving first
/// and checking the IP would demand every node's IP in its certificate.
enum HostPort {
    static func host(of configured: String) -> String {
        if configured.hasPrefix("["), let end = configured.firstIndex(of: "]") {
            return String(configured[configured.index(after: configured.startIndex)..<end])
        }
        return String(configured[..<(configured.lastIndex(of: ":") ?? configured.endIndex)])
    }
}
