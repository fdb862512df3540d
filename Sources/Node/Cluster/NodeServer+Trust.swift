import Tunnel

/// Applying the replicated trust bundle to this node's TLS: the revoked serials and
/// connectors are refused at every new handshake, and the bundle's CA list becomes the
/// trust roots of all four contexts. Live connections keep their TLS sessions; a revoked
/// connector's sessions are ended by the hub's reconcile right after.
extension NodeServer {
    /// Brings the TLS contexts in line with `machine.state.trust` if it changed since the
    /// last call. Raft loop only (after applies, at start-up, and every 200 ms so a
    /// snapshot install — which applies no command — is picked up too).
    func syncTrust() {
        let state = machine.state
        guard state.trust != appliedTrust else { return }
        let previous = appliedTrust
        appliedTrust = state.trust
        if previous?.revokedSerials != state.trust.revokedSerials || previous == nil {
            let revokedConnectors = state.connectors.values.filter(\.revoked).map(\.id)
            tls.revocation.update(serials: state.trust.revokedSerials, connectors: revokedConnectors)
            let counts = tls.revocation.counts
            log.info("revocations applied", ["serials": "\(counts.serials)", "connectors": "\(counts.connectors)"])
            // Raft links and node-to-node relay links that came up with a certificate
            // revoked since are cut; the redial's handshake refuses it. (One-off API
            // calls between nodes are not tracked: each is a new handshake.)
            let revocation = tls.revocation
            raft.closeLinks(
                where: { revocation.isRevoked(serial: $0.certificateSerialHex) }, reason: "peer certificate revoked")
            hub.closeRelays(revoked: { revocation.isRevoked(serial: $0) })
        }
        guard previous?.caPEMs != state.trust.caPEMs else { return }
        do {
            guard let outcome = try tls.setBundle(state.trust.caPEMs) else { return }
            metrics.increment("warren_trust_bundle_applied_total{outcome=\"ok\"}")
            log.info(
                "trust bundle applied",
                ["cas": tls.authorities.map { String($0.fingerprintHex.lowercased().prefix(16)) }.joined(separator: ",")])
            if let problem = outcome {
                log.error("this node's certificate is not trusted by the cluster any more; renew it", ["problem": problem])
            }
        } catch {
            metrics.increment("warren_trust_bundle_applied_total{outcome=\"refused\"}")
            log.error("trust bundle refused; still trusting the previous CAs", ["error": "\(error)"])
        }
    }
}
