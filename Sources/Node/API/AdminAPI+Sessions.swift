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
        controller.read(stale: false, { state in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: now)
        }) { result in
            switch result {
            case .failure(let error), .success(.failure(let error)):
                return call.fail(error)
            case .success(.success):
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
                if hub.attach(tunnelId: tunnelId, connectorId: connectorId, bridge: bridge) {
                    self.recordConnectorStatus(connectorId, .online)
                } else {
                    bridge.close(reason: "tunnel \(tunnelId) is closed")
                }
            }
        }
    }
}

extension AdminAPI {
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
        call.onFinish(101)
        _ = call.responder.upgradeToWebSocket(call.request, protocol: WebSocketHandshake.muxProtocol) { channel in
            _ = MuxBridge(
                channel: channel, configuration: TunnelMux.configuration(.server),
                onOpen: { descriptor in hub.acceptRelayedStream(descriptor) },
                onClose: { reason in log.info("relay link from node closed", ["node": peer, "reason": reason]) })
        }
    }
}

/// Lets a bridge's close callback find the bridge it belongs to (set right after init).
private final class BridgeHolder: @unchecked Sendable {
    weak var bridge: MuxBridge?
}
