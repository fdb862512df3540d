import Foundation
import Tunnel

/// The connector's side of the HTTPS port: its mapping list and its WebSocket session.
/// Both require a connector certificate whose serial is the connector's current one,
/// of a connector of this tunnel that is not revoked, while the tunnel is open.
extension AdminAPI {
    /// The connector's id and certificate serial. The route's `.connector` access has
    /// already required a connector certificate; `connectorAllowed` checks the rest.
    private func connectorIdentity(_ call: APICall) -> (id: String, serial: String) {
        (call.principal?.name ?? "", call.request.clientCertificate?.serialHex ?? "")
    }

    static func connectorAllowed(
        _ state: ControlState, connectorId: String, serial: String, tunnelId: String, nowMs: Int64
    ) -> Result<Void, APIError> {
        guard let connector = state.connectors[connectorId], connector.tunnelId == tunnelId else {
            return .failure(.forbidden("connector \(connectorId) is not enrolled in tunnel \(tunnelId)"))
        }
        guard !connector.revoked, !state.trust.revokedSerials.contains(serial.lowercased()) else {
            return .failure(APIError(.forbidden, "revoked", "connector \(connectorId) is revoked"))
        }
        guard connector.certificateSerial.lowercased() == serial.lowercased() else {
            return .failure(.forbidden("this certificate is not connector \(connectorId)'s current one"))
        }
        guard let tunnel = state.tunnels[tunnelId], tunnel.state == .open, tunnel.expiresAt > nowMs else {
            return .failure(APIError(410, "tunnel_closed", "tunnel \(tunnelId) is closed"))
        }
        return .success(())
    }

    /// `GET /v1/connect/:id/mappings`: what this tunnel's connector may carry.
    func connectorMappings(_ call: APICall) {
        let tunnelId = call.param("id")
        let (connectorId, serial) = connectorIdentity(call)
        let now = APICall.nowMillis()
        read(call) { state -> Result<[MappingRecord], APIError> in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: now).map {
                state.mappings.values.filter { $0.tunnelId == tunnelId }.sorted { $0.id < $1.id }
            }
        }
    }

    /// `GET /v1/connect/:id/session` (WebSocket upgrade, subprotocol warren-mux.v1): the
    /// connector's session; this node carries the tunnel's expose streams over it.
    func connectorSession(_ call: APICall) {
        let tunnelId = call.param("id")
        let (connectorId, serial) = connectorIdentity(call)
        let now = APICall.nowMillis()
        let hub = self.hub
        let log = self.log
        let audit = hub.audit
        let sessionKey = AdminAPI.newID("s")
        let stay = call.request.query["stay"] == "1"
        let nodeID = self.nodeID
        controller.read(stale: false, { state in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: now).map {
                TunnelHub.landing(tunnelId: tunnelId, stay: stay, selfID: nodeID, members: state.members)
            }
        }) { result in
            switch result {
            case .failure(let error), .success(.failure(let error)):
                return call.fail(error)
            case .success(.success(.redirect(let owner, let api))):
                return call.send(Self.redirect(tunnelId: tunnelId, owner: owner, api: api))
            case .success(.success(.refuseDraining)):
                return call.fail(APIError(503, "draining", "node \(nodeID) is draining; connect to another node"))
            case .success(.success(.accept)):
                break
            }
            call.onFinish(101)
            _ = call.responder.upgradeToWebSocket(call.request, protocol: WebSocketHandshake.muxProtocol) { channel in
                let holder = BridgeHolder()
                let bridge = MuxBridge(
                    channel: channel, configuration: TunnelMux.configuration(.server),
                    onOpen: { descriptor in
                        Self.gatewayDecision(descriptor, tunnelId: tunnelId, connectorId: connectorId, hub: hub, log: log)
                    },
                    onStreamEvent: { event in
                        audit?.record(event, session: sessionKey, tunnelId: tunnelId)
                        log.debug("stream", ["tunnel": tunnelId, "event": "\(event)"])
                    },
                    onClose: { [self] reason in
                        if let bridge = holder.bridge { hub.detach(tunnelId: tunnelId, bridge: bridge) }
                        recordConnectorStatus(connectorId, .offline)
                        log.info("connector session down", ["tunnel": tunnelId, "connector": connectorId, "reason": reason])
                    })
                holder.bridge = bridge
                if let refusal = hub.attach(tunnelId: tunnelId, connectorId: connectorId, bridge: bridge, key: sessionKey) {
                    bridge.close(reason: refusal)
                } else {
                    self.recordConnectorStatus(connectorId, .online)
                }
            }
        }
    }
}

extension AdminAPI {
    /// The redirect of a connector to its tunnel's owner: `307`, `Location` = the owner's
    /// session URL with `stay=1` (so the owner holds it whatever it believes), and
    /// `Warren-Owner` = the owner's id (docs/PROTOCOL.md, "Redirect to the owner").
    static func redirect(tunnelId: String, owner: String, api: String) -> HTTPResponse {
        var response = APIError(.temporaryRedirect, "redirect", "tunnel \(tunnelId) is held by \(owner) at \(api)").response
        response.headers.replaceOrAdd(name: "Location", value: "https://\(api)/v1/connect/\(tunnelId)/session?stay=1")
        response.headers.replaceOrAdd(name: "Warren-Owner", value: owner)
        return response
    }

    /// `GET /v1/connect/:id/route`: the members a connector may dial and the tunnel's
    /// owner, so it can re-home when the node it knows is gone.
    func connectorRoute(_ call: APICall) {
        let tunnelId = call.param("id")
        let (connectorId, serial) = connectorIdentity(call)
        let now = APICall.nowMillis()
        let nodeID = self.nodeID
        read(call) { state -> Result<ConnectorRouteView, APIError> in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: now).map {
                ConnectorRouteView(
                    node: nodeID, owner: Placement.owner(of: tunnelId, in: state),
                    members: state.members.values.sorted { $0.id < $1.id }.map {
                        .init(id: $0.id, api: $0.apiAddress, ready: $0.isReady)
                    })
            }
        }
    }

    struct ConnectorRouteView: Codable, Sendable {
        struct Member: Codable, Sendable {
            var id: String
            var api: String
            var ready: Bool
        }
        /// The node answering.
        var node: String
        /// The tunnel's owner now (nil: no member is ready).
        var owner: String?
        var members: [Member]
    }

    /// Records where a connector's session is (replicated, so `connector list` on any
    /// node shows it online and on which node). Fire and forget: the session does not wait.
    func recordConnectorStatus(_ connectorId: String, _ status: ConnectorRecord.Status) {
        let command = ControlCommand(
            at: APICall.nowMillis(), actor: Principal(.node, nodeID), node: nodeID, source: "",
            op: .connectorStatus(.init(id: connectorId, status: status, node: nodeID)))
        let log = self.log
        controller.write(command) { result in
            if case .success(.error(let refusal)) = result {
                log.debug("connector status not recorded", ["connector": connectorId, "error": "\(refusal)"])
            }
        }
    }
}

extension AdminAPI {
    /// `GET /v1/internal/relay` (node certificate, WebSocket, warren-mux.v1): another node
    /// carries clients of tunnels whose connector session is held here.
    func internalRelay(_ call: APICall) {
        let hub = self.hub
        let log = self.log
        let peer = call.principal?.name ?? "?"
        let serial = call.request.clientCertificate?.serialHex ?? ""
        call.onFinish(101)
        _ = call.responder.upgradeToWebSocket(call.request, protocol: WebSocketHandshake.muxProtocol) { channel in
            let holder = BridgeHolder()
            let bridge = MuxBridge(
                channel: channel, configuration: TunnelMux.configuration(.server),
                onOpen: { descriptor in hub.acceptRelayedStream(descriptor, from: peer) },
                onClose: { reason in
                    if let bridge = holder.bridge { hub.detachInboundRelay(bridge) }
                    log.info("relay link from node closed", ["node": peer, "reason": reason])
                })
            holder.bridge = bridge
            hub.attachInboundRelay(bridge, serial: serial)
        }
    }
}

/// Lets a bridge's close callback find the bridge it belongs to (set right after init).
private final class BridgeHolder: @unchecked Sendable {
    weak var bridge: MuxBridge?
}
