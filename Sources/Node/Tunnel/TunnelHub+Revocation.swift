import Tunnel

/// Relay links and revoked node certificates: a link that came up with a certificate
/// revoked since is ended at once, in both directions (the redial's handshake is refused
/// by the TLS layer), as the Raft links are.
extension TunnelHub {
    /// Registers another node's relay link into this node (`/v1/internal/relay`) with the
    /// serial of the certificate it presented. Any thread.
    func attachInboundRelay(_ bridge: MuxBridge, serial: String) {
        registry.withLock { $0.inboundRelays[ObjectIdentifier(bridge)] = (serial.lowercased(), bridge) }
    }

    /// Forgets an inbound relay link that closed. Any thread.
    func detachInboundRelay(_ bridge: MuxBridge) {
        registry.withLock { _ = $0.inboundRelays.removeValue(forKey: ObjectIdentifier(bridge)) }
    }

    /// Closes every relay link, either way, whose other node's certificate serial
    /// `isRevoked` (their streams end with the reason); returns how many. Any thread.
    @discardableResult
    func closeRelays(revoked isRevoked: (String) -> Bool) -> Int {
        let doomed = registry.withLock { r -> [MuxBridge] in
            var out: [MuxBridge] = []
            for (node, serial) in r.relaySerials where isRevoked(serial) {
                if let bridge = r.relays.removeValue(forKey: node) { out.append(bridge) }
                r.relaySerials[node] = nil
            }
            for (key, entry) in r.inboundRelays where isRevoked(entry.serial) {
                out.append(entry.bridge)
                r.inboundRelays[key] = nil
            }
            return out
        }
        for bridge in doomed { bridge.close(code: .cancel, reason: "peer certificate revoked") }
        if !doomed.isEmpty { log.info("relay links of a revoked certificate closed", ["links": "\(doomed.count)"]) }
        return doomed.count
    }
}
