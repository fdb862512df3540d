import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// Keeps a running connector's certificate fresh and its trust bundle current, with no
/// restart and no session drop: it renews over mutual TLS with its current certificate
/// (`POST /v1/connect/TUNNEL/renew` with a CSR for a new key), writes the new identity to
/// the state dir (ConnectorIdentity+Renewal.swift), then swaps the client TLS context —
/// the live session keeps its TLS session; only new handshakes present the new certificate.
///
/// When: at two thirds of the certificate's lifetime, or at once when the cluster says it
/// signs under another CA now (a CA rotation began). Between, every tenth of the lifetime
/// (at most a minute) it asks for the trust bundle (`GET /v1/connect/TUNNEL/trust`) and
/// installs a changed one, so it trusts a new CA before the nodes present certificates of it.
///
/// Threading: one serial queue runs the checks; `certificate` and `stop` from any thread.
final class ConnectorRenewal: Sendable {
    let identity: ConnectorIdentity
    let stateDir: String
    let log: NodeLog
    /// The client context every new connection of the connector takes.
    let tls: TLSContextProvider
    /// The HTTP CONNECT egress proxy, when the connector goes through one.
    let proxy: HTTPConnectProxy?
    private let queue = DispatchQueue(label: "warren.connector.renewal")
    private let state: Mutex<State>

    private struct State {
        var certificate: Certificate
        var caFingerprints: [String]
        var nodeIndex = 0
        var stopped = false
        var renewals = 0
    }

    init(
        identity: ConnectorIdentity, stateDir: String, log: NodeLog, tls: TLSContextProvider,
        proxy: HTTPConnectProxy? = nil
    ) throws {
        self.identity = identity
        self.proxy = proxy
        self.stateDir = stateDir
        self.log = log
        self.tls = tls
        let p = ConnectorIdentity.paths(stateDir)
        let certificate = try Certificate(pem: try PKIFile.readText(p.certificate))
        let cas = try Certificate.all(fromPEM: try PKIFile.readText(p.ca)).map { $0.fingerprintHex.lowercased() }
        state = Mutex(State(certificate: certificate, caFingerprints: cas))
    }

    /// The certificate new handshakes present.
    var certificate: Certificate { state.withLock { $0.certificate } }

    /// Renewals done by this process.
    var renewals: Int { state.withLock { $0.renewals } }

    /// The message for a certificate past its lifetime, or nil while it is valid.
    static func expiredMessage(_ certificate: Certificate, now: Int64) -> String? {
        guard certificate.notAfter <= now else { return nil }
        let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(certificate.notAfter)))
        return "this connector's certificate expired at \(when) (it was offline past its lifetime, or could not renew): "
            + "it needs a new connect URL — ask an operator, then run with --url and a fresh --state-dir"
    }

    /// When to renew: two thirds into the lifetime (issue time = notBefore + the clock-skew
    /// allowance the nodes subtract), in Unix seconds.
    static func renewAt(_ certificate: Certificate) -> Double {
        let issued = Double(certificate.notBefore + CertificateProfile.clockSkewSeconds)
        return issued + (Double(certificate.notAfter) - issued) * 2 / 3
    }

    /// How often to check: a tenth of the lifetime, between 0.2 s and 60 s.
    static func checkIntervalSeconds(_ certificate: Certificate) -> Double {
        let lifetime = Double(certificate.notAfter - certificate.notBefore - CertificateProfile.clockSkewSeconds)
        return min(60, max(0.2, lifetime / 10))
    }

    func start() { schedule() }

    func stop() { state.withLock { $0.stopped = true } }

    private func schedule() {
        let (interval, stopped) = state.withLock { (Self.checkIntervalSeconds($0.certificate), $0.stopped) }
        guard !stopped else { return }
        queue.asyncAfter(deadline: .now() + interval) { [self] in
            check()
            schedule()
        }
    }

    /// One check (on the queue): renew when due, else look at the trust bundle.
    func check() {
        let certificate = self.certificate
        if Date().timeIntervalSince1970 >= Self.renewAt(certificate) {
            renew(reason: "two thirds of its lifetime passed")
            return
        }
        do {
            let response = try send(HTTPClientRequest(path: "/v1/connect/\(identity.tunnelId)/trust"))
            guard response.status == .ok,
                let answer = try? JSONDecoder().decode(AdminAPI.TrustAnswer.self, from: Data(response.body))
            else { return log.warn("trust check refused", ["status": "\(response.status.code)", "body": Self.text(response)]) }
            try installCA(answer.ca)
            if answer.renew { renew(reason: "the cluster signs under a new CA") }
        } catch {
            log.warn("trust check failed", ["error": "\(error)"])
        }
    }

    /// Renews now: a new key, a CSR, the node's answer written to the state dir, then the
    /// TLS context swapped. Returns whether it worked (a failure is retried at the next check).
    @discardableResult
    func renew(reason: String) -> Bool {
        do {
            let key = try PrivateKey.generateP256()
            let csr = try CertificateSigningRequest(key: key, commonName: identity.connectorId)
            let body = try JSONSerialization.data(withJSONObject: ["csr": try csr.pemString()])
            let response = try send(
                HTTPClientRequest(
                    method: "POST", path: "/v1/connect/\(identity.tunnelId)/renew",
                    headers: ["Content-Type": "application/json"], body: Array(body)))
            guard response.status.code == 201,
                let answer = try? JSONDecoder().decode(AdminAPI.RenewAnswer.self, from: Data(response.body))
            else {
                log.warn("renewal refused", ["status": "\(response.status.code)", "body": Self.text(response)])
                return false
            }
            let renewed = try Certificate(pem: answer.certificate)
            guard renewed.matches(key) else { throw CommandError("the renewed certificate is not for our key") }
            try ConnectorIdentity.saveRenewed(stateDir, certificatePEM: answer.certificate, key: key, caPEM: answer.ca)
            tls.swap(try TLSContext(try identity.tls(stateDir), side: .client))
            let previous = state.withLock { s -> String in
                let old = s.certificate.serialHex
                s.certificate = renewed
                s.caFingerprints = (try? Certificate.all(fromPEM: answer.ca).map { $0.fingerprintHex.lowercased() }) ?? []
                s.renewals += 1
                return old
            }
            log.info(
                "certificate renewed",
                ["reason": reason, "old": previous, "new": renewed.serialHex, "notAfter": "\(renewed.notAfter)",
                 "ca": String(answer.signingCA.prefix(16))])
            return true
        } catch {
            log.warn("renewal failed; retrying at the next check", ["error": "\(error)"])
            return false
        }
    }

    /// Writes a changed CA bundle and rebuilds the context (same certificate and key).
    private func installCA(_ pem: String) throws {
        let fingerprints = try Certificate.all(fromPEM: pem).map { $0.fingerprintHex.lowercased() }
        guard !fingerprints.isEmpty, fingerprints != state.withLock({ $0.caFingerprints }) else { return }
        try ConnectorIdentity.saveCA(stateDir, caPEM: pem)
        tls.swap(try TLSContext(try identity.tls(stateDir), side: .client))
        state.withLock { $0.caFingerprints = fingerprints }
        log.info("trust bundle updated", ["cas": fingerprints.map { String($0.prefix(16)) }.joined(separator: ",")])
    }

    /// One request to the first node that answers, starting with the last one that did.
    private func send(_ request: HTTPClientRequest) throws -> HTTPClientResponse {
        let nodes = identity.nodes
        var lastError: (any Error)?
        for attempt in 0..<max(1, nodes.count) {
            let index = (state.withLock { $0.nodeIndex } + attempt) % max(1, nodes.count)
            let address = nodes[index]
            guard let parsed = try? SocketAddress(parsing: address) else { continue }
            let client = HTTPClient(
                host: HostPort.host(of: address), port: parsed.port, tls: tls.current,
                serverName: HostPort.host(of: address), timeoutMillis: 5000)
            client.proxy = proxy
            defer { client.close() }
            do {
                let response = try client.send(request)
                state.withLock { $0.nodeIndex = index }
                return response
            } catch {
                lastError = error
            }
        }
        throw lastError ?? CommandError("no node address to renew with")
    }

    private static func text(_ response: HTTPClientResponse) -> String {
        String(decoding: response.body.prefix(300), as: UTF8.self)
    }
}
