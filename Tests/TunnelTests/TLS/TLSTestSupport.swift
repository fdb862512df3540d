import Foundation

@testable import Tunnel

/// TLS tests run against the real clock: OpenSSL checks validity at handshake time.
func tlsNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
let tlsDay: Int64 = 86_400

/// A certificate with its key, as PEM, ready for a TLSConfiguration.
struct TLSIdentity {
    let certificate: Certificate
    let certificatePEM: String
    let keyPEM: String
}

func makeTLSCA(_ name: String = "TLS Test CA") throws -> CertificateAuthority {
    let now = tlsNow()
    return try CertificateAuthority.create(commonName: name, notBefore: now - 30 * tlsDay, notAfter: now + 365 * tlsDay)
}

func issueIdentity(
    from ca: CertificateAuthority, name: String = "n1", role: CertificateRole = .node,
    dnsNames: [String] = ["localhost", "n1.warren.test"], ipAddresses: [String] = ["127.0.0.1"],
    notBefore: Int64? = nil, notAfter: Int64? = nil
) throws -> TLSIdentity {
    let now = tlsNow()
    let profile = CertificateProfile(
        commonName: name, role: role, dnsNames: dnsNames, ipAddresses: ipAddresses,
        notBefore: notBefore ?? now - 60, notAfter: notAfter ?? now + 30 * tlsDay)
    let (certificate, key) = try ca.issueWithNewKey(profile)
    return TLSIdentity(
        certificate: certificate, certificatePEM: try certificate.pemString(), keyPEM: try key.pemString())
}

func serverContext(
    _ identity: TLSIdentity, trusting ca: CertificateAuthority, clientAuth: TLSConfiguration.ClientAuth = .required,
    alpn: [String] = [], refusingExpiredCertificate: Bool = true
) throws -> TLSContext {
    let config = TLSConfiguration(
        certificateChainPEM: identity.certificatePEM, privateKeyPEM: identity.keyPEM,
        trustRootsPEM: try ca.certificate.pemString(), clientAuth: clientAuth, alpn: alpn)
    return try TLSContext(config, side: .server, refusingExpiredCertificate: refusingExpiredCertificate)
}

func clientContext(_ identity: TLSIdentity?, trusting ca: CertificateAuthority, alpn: [String] = []) throws
    -> TLSContext
{
    let config = TLSConfiguration(
        certificateChainPEM: identity?.certificatePEM, privateKeyPEM: identity?.keyPEM,
        trustRootsPEM: try ca.certificate.pemString(), alpn: alpn)
    return try TLSContext(config, side: .client)
}

extension TLSEngine.Progress {
    var isComplete: Bool { if case .complete = self { true } else { false } }
    var error: TLSError? { if case .failed(let error) = self { error } else { nil } }
}

extension TLSEngine.ReadResult {
    var error: TLSError? { if case .failed(let error) = self { error } else { nil } }
}

/// Two engines wired back to back in memory: `shuttle()` moves each one's outbound
/// ciphertext into the other's inbound.
final class EnginePair {
    let client: TLSEngine
    let server: TLSEngine

    init(client: TLSContext, server: TLSContext, serverName: String? = "n1.warren.test") throws {
        self.client = try TLSEngine(context: client, serverName: serverName)
        self.server = try TLSEngine(context: server, serverName: nil)
    }

    /// Moves pending ciphertext both ways; returns the number of bytes moved.
    @discardableResult
    func shuttle() -> Int {
        let moved = client.outbound.count + server.outbound.count
        Self.move(from: client, to: server)
        Self.move(from: server, to: client)
        return moved
    }

    private static func move(from source: TLSEngine, to destination: TLSEngine) {
        let count = source.outbound.count
        guard count > 0 else { return }
        destination.inbound.append(source.outbound.readable)
        source.outbound.consume(count)
    }

    /// Drives both handshakes until each has completed or failed, or nothing moves.
    func handshake() -> (client: TLSEngine.Progress, server: TLSEngine.Progress) {
        var clientProgress = client.handshake()
        var serverProgress = server.handshake()
        for _ in 0..<20 {
            let moved = shuttle()
            let clientDone = clientProgress.isComplete || clientProgress.error != nil
            let serverDone = serverProgress.isComplete || serverProgress.error != nil
            if clientDone && serverDone && moved == 0 { break }
            if !clientDone { clientProgress = client.handshake() }
            if !serverDone { serverProgress = server.handshake() }
            if moved == 0 && client.outbound.isEmpty && server.outbound.isEmpty { break }
        }
        shuttle()
        return (clientProgress, serverProgress)
    }

    /// Reads everything `engine` can decrypt now; returns the bytes and the final result.
    static func readAvailable(_ engine: TLSEngine) -> (bytes: [UInt8], last: TLSEngine.ReadResult) {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let result = chunk.withUnsafeMutableBytes { engine.read(into: $0) }
            guard case .bytes(let n) = result else { return (out, result) }
            out += chunk[0..<n]
        }
    }

    /// Writes all of `bytes` on `engine`; returns the count written.
    static func write(_ bytes: [UInt8], on engine: TLSEngine) throws -> Int {
        try bytes.withUnsafeBytes { try engine.write($0).get() }
    }
}
