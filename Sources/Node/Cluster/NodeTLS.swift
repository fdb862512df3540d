import Foundation
internal import Synchronization
import Tunnel

/// The TLS contexts of one node, each behind a provider so certificate hot reload can swap
/// them for new handshakes while live connections keep theirs.
///
/// - peer server: mutual TLS, client certificate required, role `node` only;
/// - peer client: presents the node certificate, verifies the other node's;
/// - API server: asks for a client certificate without requiring one (connectors and
///   admins present one, browsers and JWT callers do not); routes check the role;
/// - API client: the node certificate, for forwarding requests to the leader.
///
/// Safe from any thread: the providers and the current certificate are locked.
final class NodeTLS: Sendable {
    let peerServer: TLSContextProvider
    let peerClient: TLSContextProvider
    let apiServer: TLSContextProvider
    let apiClient: TLSContextProvider
    let nodeID: String
    private let current: Mutex<(certificate: Certificate, caFingerprint: String)>

    /// Loads and checks the files (see `contexts`); throws naming what is wrong.
    init(certificateFile: String, keyFile: String, caFile: String, nodeID: String? = nil) throws {
        let loaded = try Self.contexts(certificateFile: certificateFile, keyFile: keyFile, caFile: caFile, nodeID: nodeID)
        self.nodeID = nodeID ?? loaded.certificate.roleName ?? ""
        peerServer = TLSContextProvider(loaded.peerServer)
        peerClient = TLSContextProvider(loaded.peerClient)
        apiServer = TLSContextProvider(loaded.apiServer)
        apiClient = TLSContextProvider(loaded.apiClient)
        current = Mutex((loaded.certificate, loaded.caFingerprint))
    }

    /// The node certificate new handshakes present.
    var certificate: Certificate { current.withLock { $0.certificate } }

    /// SHA-256 (hex) of the first CA in the CA file: what connect URLs pin.
    var caFingerprint: String { current.withLock { $0.caFingerprint } }

    /// Hot reload: checks the files and, only if every check passes, swaps all four
    /// contexts at once. Live connections keep the contexts they started with. Throws
    /// (changing nothing) for a half-written, mismatched, expired or foreign file.
    @discardableResult
    func reload(certificateFile: String, keyFile: String, caFile: String) throws -> Certificate {
        let loaded = try Self.contexts(certificateFile: certificateFile, keyFile: keyFile, caFile: caFile, nodeID: nodeID)
        peerServer.swap(loaded.peerServer)
        peerClient.swap(loaded.peerClient)
        apiServer.swap(loaded.apiServer)
        apiClient.swap(loaded.apiClient)
        current.withLock { $0 = (loaded.certificate, loaded.caFingerprint) }
        return loaded.certificate
    }

    private struct Loaded {
        var certificate: Certificate
        var caFingerprint: String
        var peerServer: TLSContext
        var peerClient: TLSContext
        var apiServer: TLSContext
        var apiClient: TLSContext
    }

    /// Parses and checks: the key matches the certificate, it is valid now, it chains to
    /// a CA in the CA file, it names role node (and this node, when known).
    private static func contexts(certificateFile: String, keyFile: String, caFile: String, nodeID: String?) throws
        -> Loaded
    {
        let base = try TLSConfiguration.files(certificate: certificateFile, key: keyFile, ca: caFile)
        let certificate = try Certificate(pem: base.certificateChainPEM ?? "")
        guard certificate.role == .node else {
            throw TLSError(.configuration, "\(certificateFile) is not a node certificate (no warren://node/NAME SAN)")
        }
        if let nodeID, certificate.roleName != nodeID {
            throw TLSError(
                .configuration, "\(certificateFile) names node \(certificate.roleName ?? "?"), not this node (\(nodeID))")
        }
        let authorities = try Certificate.all(fromPEM: base.trustRootsPEM ?? "")
        let now = Int64(Date().timeIntervalSince1970)
        if case .rejected(let why) = certificate.verify(against: authorities, at: now, usage: .serverAuth) {
            throw TLSError(
                .configuration, "\(certificateFile) (serial \(certificate.serialHex)) does not verify against \(caFile): \(why.reason)")
        }
        var peerServer = base
        peerServer.clientAuth = .required
        peerServer.acceptedPeerRoles = [.node]
        var peerClient = base
        peerClient.acceptedPeerRoles = [.node]
        var apiServer = base
        apiServer.clientAuth = .optional
        apiServer.alpn = ["http/1.1"]
        var apiClient = base
        apiClient.alpn = ["http/1.1"]
        return Loaded(
            certificate: certificate, caFingerprint: authorities.first?.fingerprintHex.lowercased() ?? "",
            peerServer: try TLSContext(peerServer, side: .server),
            peerClient: try TLSContext(peerClient, side: .client), apiServer: try TLSContext(apiServer, side: .server),
            apiClient: try TLSContext(apiClient, side: .client))
    }
}
