import Tunnel

/// The TLS contexts of one node, each behind a provider so certificate hot reload can swap
/// them for new handshakes while live connections keep theirs.
///
/// - peer server: mutual TLS, client certificate required, role `node` only;
/// - peer client: presents the node certificate, verifies the other node's;
/// - API server: asks for a client certificate without requiring one (connectors and
///   admins present one, browsers and JWT callers do not); routes check the role;
/// - API client: the node certificate, for forwarding requests to the leader.
struct NodeTLS: Sendable {
    let peerServer: TLSContextProvider
    let peerClient: TLSContextProvider
    let apiServer: TLSContextProvider
    let apiClient: TLSContextProvider
    /// The node certificate's serial and expiry, for status and readiness.
    let certificate: Certificate

    init(certificateFile: String, keyFile: String, caFile: String) throws {
        let base = try TLSConfiguration.files(certificate: certificateFile, key: keyFile, ca: caFile)
        certificate = try Certificate(contentsOfFile: certificateFile)
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
        self.peerServer = TLSContextProvider(try TLSContext(peerServer, side: .server))
        self.peerClient = TLSContextProvider(try TLSContext(peerClient, side: .client))
        self.apiServer = TLSContextProvider(try TLSContext(apiServer, side: .server))
        self.apiClient = TLSContextProvider(try TLSContext(apiClient, side: .client))
    }
}
