import Dispatch
import Foundation
import Tunnel

/// Where the connector holds its session (docs/ARCHITECTURE.md, "Placement"): it follows
/// one redirect to the tunnel's owner and, when the owner cannot be reached, goes back to
/// the node that redirected it and asks to stay; when told to go away (GOAWAY NO_ERROR,
/// a re-home reason) it opens a new session at once and lets the old one's streams end.
extension ConnectorRuntime {
    /// One try at a session.
    struct DialAttempt: Equatable {
        /// `host:port` of the node's HTTPS port.
        var address: String
        /// Ask the node to hold the session whatever placement says (`?stay=1`): sent
        /// after a redirect, and when the owner could not be reached.
        var stay = false
        /// Where to go back to (with `stay`) if this try fails: the node that redirected.
        var fallback: String?
    }

    /// The nodes to rotate through: the connect URL's host and the members it was given
    /// at enrolment, then those learned from the cluster since.
    func knownNodes(_ s: State) -> [String] {
        var seen = Set<String>()
        return (identity.nodes + s.learned).filter { seen.insert($0).inserted }
    }

    /// The next try after a refused upgrade, when it was a redirect: the `Location`'s
    /// host with `stay`, falling back to the redirecting node. A try that already had
    /// `stay` is never redirected again (so views that differ cannot make a loop).
    func redirected(_ error: WebSocketError, from attempt: DialAttempt) -> DialAttempt? {
        guard !attempt.stay, error.status == .temporaryRedirect, let location = error.location,
            let address = Self.hostPort(ofURL: location)
        else { return nil }
        log.info("redirected to the tunnel's owner", ["from": attempt.address, "to": address])
        return DialAttempt(address: address, stay: true, fallback: attempt.address)
    }

    /// `host:port` of an `https://host:port/...` URL.
    static func hostPort(ofURL url: String) -> String? {
        guard url.hasPrefix("https://") else { return nil }
        let rest = url.dropFirst("https://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        return authority.isEmpty ? nil : String(authority)
    }

    /// A try failed: back to the redirecting node (asking to stay) if there is one, else
    /// the usual backoff and the next node. Never called on an event loop thread's
    /// behalf with blocking work: dialling hops to a dispatch queue.
    func retry(after attempt: DialAttempt, _ why: String) {
        guard let fallback = attempt.fallback else { return fail(why, final: false) }
        log.info("the owner cannot be reached; staying on the node that redirected", ["node": fallback, "error": why])
        DispatchQueue.global().async { [self] in dial(DialAttempt(address: fallback, stay: true)) }
    }

    /// A session's bridge closed: the current one means reconnecting (or stopping, for a
    /// final reason); a retiring one (sent away earlier) just goes.
    func sessionEnded(_ generation: Int, address: String, reason: String) {
        let current = state.withLock { s -> Bool in
            s.retiring[generation] = nil
            guard s.generation == generation else { return false }
            s.bridge = nil
            return true
        }
        guard current else { return }
        mappings.sessionDown()
        fail("session to \(address) ended: \(reason)", final: Self.isFinal(reason))
    }

    /// The node sent GOAWAY with NO_ERROR (draining, ownership moved, shutting down): the
    /// session retires (its live streams run on) and a new one is opened now, at the
    /// address the reason names if any (docs/PROTOCOL.md, "Re-homing").
    func rehome(_ generation: Int, reason: String) {
        let moved = state.withLock { s -> Bool in
            guard s.generation == generation, let bridge = s.bridge, !s.stopped else { return false }
            s.retiring[generation] = bridge
            s.bridge = nil
            s.nodeIndex += 1
            return true
        }
        guard moved else { return }
        // Publish streams cannot open on a session going away: none until the new one is up.
        mappings.sessionDown()
        let address = TunnelHub.rehomeAddress(reason)
        log.info("re-homing", ["reason": reason, "to": address ?? "next node"])
        DispatchQueue.global().async { [self] in dial(address.map { DialAttempt(address: $0) }) }
    }

    /// Learns the cluster's members from the node holding the session, so the connector
    /// can reach the cluster when the connect URL's host is down. Best effort, off-loop.
    func learnRoute(_ address: String) {
        let tunnelId = identity.tunnelId
        DispatchQueue.global().async { [self] in
            guard let node = try? SocketAddress(parsing: address) else { return }
            let client = HTTPClient(
                host: HostPort.host(of: address), port: node.port, tls: tls.current, serverName: HostPort.host(of: address),
                timeoutMillis: 3000)
            client.proxy = proxy
            defer { client.close() }
            guard let response = try? client.send(HTTPClientRequest(path: "/v1/connect/\(tunnelId)/route")),
                response.status == .ok,
                let route = try? JSONDecoder().decode(AdminAPI.ConnectorRouteView.self, from: Data(response.body))
            else { return }
            let apis = route.members.filter(\.ready).map(\.api) + route.members.filter { !$0.ready }.map(\.api)
            state.withLock { $0.learned = apis }
        }
    }
}
