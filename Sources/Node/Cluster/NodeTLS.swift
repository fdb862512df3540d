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
/// Trust roots: the CA file until the replicated trust bundle lists CAs, then exactly the
/// bundle's CAs (so a CA rotation's `finish` stops trusting the old CA everywhere, whatever
/// the CA files say). Every context runs `revocation`'s check after each handshake, both
/// directions, resumed sessions included.
///
/// Safe from any thread: the providers and the current state are locked.
final class NodeTLS: Sendable {
    let peerServer: TLSContextProvider
    let peerClient: TLSContextProvider
    let apiServer: TLSContextProvider
    let apiClient: TLSContextProvider
    let nodeID: String
    let certificateFile: String
    let keyFile: String
    let caFile: String
    /// Revoked serials and connectors, refused at every handshake (NodeRevocation.swift).
    let revocation = NodeRevocation()

    private struct Current {
        var certificate: Certificate
        /// The trust roots the contexts were built with.
        var authorities: [Certificate]
        /// The replicated CA list (PEM); empty = the CA file.
        var bundle: [String]
        /// `caFingerprint`, computed once per load: every tunnel creation puts it in the
        /// connect URL, and hashing the certificate each time was 4% of a leader's CPU.
        var caFingerprint: String

        init(certificate: Certificate, authorities: [Certificate], bundle: [String]) {
            self.certificate = certificate
            self.authorities = authorities
            self.bundle = bundle
            caFingerprint = authorities.last?.fingerprintHex.lowercased() ?? ""
        }
    }

    private let current: Mutex<Current>

    /// Loads and checks the files (see `contexts`); throws naming what is wrong.
    init(certificateFile: String, keyFile: String, caFile: String, nodeID: String? = nil) throws {
        let check = revocation.check
        let loaded = try Self.contexts(
            certificateFile: certificateFile, keyFile: keyFile, caFile: caFile, bundle: [], nodeID: nodeID,
            requireOwnChain: true, peerCheck: check)
        self.nodeID = nodeID ?? loaded.certificate.roleName ?? ""
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        peerServer = TLSContextProvider(loaded.peerServer)
        peerClient = TLSContextProvider(loaded.peerClient)
        apiServer = TLSContextProvider(loaded.apiServer)
        apiClient = TLSContextProvider(loaded.apiClient)
        current = Mutex(Current(certificate: loaded.certificate, authorities: loaded.authorities, bundle: []))
    }

    /// The node certificate new handshakes present.
    var certificate: Certificate { current.withLock { $0.certificate } }

    /// The CAs new handshakes trust (the bundle's, or the CA file's).
    var authorities: [Certificate] { current.withLock { $0.authorities } }

    /// SHA-256 (hex) of the newest trusted CA (the bundle lists the old CA first during a
    /// rotation): what connect URLs pin, so a URL made during the overlap outlives `finish`.
    var caFingerprint: String { current.withLock { $0.caFingerprint } }

    /// Hot reload: checks the files and, only if every check passes, swaps all four
    /// contexts at once. Live connections keep the contexts they started with. Throws
    /// (changing nothing) for a half-written, mismatched, expired or foreign file.
    @discardableResult
    func reload() throws -> Certificate {
        let bundle = current.withLock { $0.bundle }
        let loaded = try Self.contexts(
            certificateFile: certificateFile, keyFile: keyFile, caFile: caFile, bundle: bundle, nodeID: nodeID,
            requireOwnChain: true, peerCheck: revocation.check)
        install(loaded, bundle: bundle)
        return loaded.certificate
    }

    /// The replicated CA list changed: rebuilds the contexts with it as trust roots (the
    /// CA file again when empty). Returns nil when nothing changed, else a warning when
    /// this node's own certificate does not chain to the new roots (it is installed
    /// anyway: trusting exactly the replicated CAs matters more than this node's
    /// reachability, and the operator must renew its certificate). Throws, changing
    /// nothing, for a list that cannot be parsed.
    func setBundle(_ bundle: [String]) throws -> String?? {
        guard current.withLock({ $0.bundle }) != bundle else { return nil }
        let loaded = try Self.contexts(
            certificateFile: certificateFile, keyFile: keyFile, caFile: caFile, bundle: bundle, nodeID: nodeID,
            requireOwnChain: false, peerCheck: revocation.check)
        install(loaded, bundle: bundle)
        return .some(loaded.ownChainProblem)
    }

    private func install(_ loaded: Loaded, bundle: [String]) {
        peerServer.swap(loaded.peerServer)
        peerClient.swap(loaded.peerClient)
        apiServer.swap(loaded.apiServer)
        apiClient.swap(loaded.apiClient)
        current.withLock { $0 = Current(certificate: loaded.certificate, authorities: loaded.authorities, bundle: bundle) }
    }

    private struct Loaded {
        var certificate: Certificate
        var authorities: [Certificate]
        var ownChainProblem: String?
        var peerServer: TLSContext
        var peerClient: TLSContext
        var apiServer: TLSContext
        var apiClient: TLSContext
    }

    /// `ca-next.pem` beside the CA file: the new CA during a rotation (ConnectorSigner).
    static func nextCAFile(_ caFile: String) -> String {
        (caFile as NSString).deletingLastPathComponent + "/ca-next.pem"
    }

    /// Parses and checks: the key matches the certificate, it is valid now, it chains to
    /// a trusted CA (required unless `requireOwnChain` is false), it names role node (and
    /// this node, when known).
    private static func contexts(
        certificateFile: String, keyFile: String, caFile: String, bundle: [String], nodeID: String?,
        requireOwnChain: Bool, peerCheck: @escaping @Sendable (Certificate) -> String?
    ) throws -> Loaded {
        var base = try TLSConfiguration.files(certificate: certificateFile, key: keyFile, ca: caFile)
        if !bundle.isEmpty {
            base.trustRootsPEM = bundle.joined(separator: "\n")
        } else if let next = try? PKIFile.readText(nextCAFile(caFile)) {
            // Before the bundle is known (start-up mid-rotation): the PKI folder's next CA too.
            base.trustRootsPEM = (base.trustRootsPEM ?? "") + "\n" + next
        }
        base.peerCheck = peerCheck
        let certificate = try Certificate(pem: base.certificateChainPEM ?? "")
        guard certificate.role == .node else {
            throw TLSError(.configuration, "\(certificateFile) is not a node certificate (no warren://node/NAME SAN)")
        }
        if let nodeID, certificate.roleName != nodeID {
            throw TLSError(
                .configuration, "\(certificateFile) names node \(certificate.roleName ?? "?"), not this node (\(nodeID))")
        }
        let authorities = try Certificate.all(fromPEM: base.trustRootsPEM ?? "")
        let rootsName = bundle.isEmpty ? caFile : "the cluster's trust bundle"
        let now = Int64(Date().timeIntervalSince1970)
        var ownChainProblem: String?
        if case .rejected(let why) = certificate.verify(against: authorities, at: now, usage: .serverAuth) {
            let message = "\(certificateFile) (serial \(certificate.serialHex)) does not verify against \(rootsName): \(why.reason)"
            if requireOwnChain { throw TLSError(.configuration, message) }
            ownChainProblem = message
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
            certificate: certificate, authorities: authorities, ownChainProblem: ownChainProblem,
            peerServer: try TLSContext(peerServer, side: .server),
            peerClient: try TLSContext(peerClient, side: .client), apiServer: try TLSContext(apiServer, side: .server),
            apiClient: try TLSContext(apiClient, side: .client))
    }
}
