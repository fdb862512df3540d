import Foundation
import Tunnel

/// The connector's configuration route and the node's decision on streams a connector
/// opens (publish mappings, remote forwards).
extension AdminAPI {
    /// Longest a `config?after=` request is parked before it is answered unchanged.
    static let configWaitSecondsMax = 30

    /// `GET /v1/connect/:id/config[?after=VERSION&waitSeconds=N]` (connector certificate):
    /// the connector's `ConnectorConfig`. With `after` equal to the current version, the
    /// answer waits up to `waitSeconds` (default 25, at most 30) for a change (a long
    /// poll), so a connector learns of a new mapping or rule at once without polling.
    func connectorConfig(_ call: APICall) {
        let tunnelId = call.param("id")
        let connectorId = call.principal?.name ?? ""
        let serial = call.request.clientCertificate?.serialHex ?? ""
        let waitText = call.request.query["waitSeconds"] ?? "25"
        guard let wait = Int(waitText), wait >= 0, wait <= Self.configWaitSecondsMax else {
            return call.fail(.badRequest("waitSeconds must be 0–\(Self.configWaitSecondsMax)"))
        }
        let after = call.request.query["after"]
        let watch = hub.connectorState
        let now = APICall.nowMillis()
        controller.read(stale: false, { state in
            Self.connectorAllowed(state, connectorId: connectorId, serial: serial, tunnelId: tunnelId, nowMs: now).map {
                ConnectorConfig.of(tunnelId: tunnelId, connectorId: connectorId, in: state)
            }
        }) { result in
            switch result {
            case .failure(let error), .success(.failure(let error)):
                call.fail(error)
            case .success(.success(let config)):
                guard config.version == after, wait > 0 else { return call.ok(config) }
                watch.park(
                    tunnelId: tunnelId, connectorId: connectorId, serial: serial, current: config,
                    waitMs: Int64(wait) * 1000, nowMs: now
                ) { parked in
                    switch parked {
                    case .success(let next): call.ok(next)
                    case .failure(let error): call.fail(error)
                    }
                }
            }
        }
    }

    /// The node's answer to a stream the connector opened on its session: dial the
    /// gateway-side target of a publish mapping or remote forward of this connector's
    /// tunnel, checked against the latest applied state; refuse anything else.
    static func gatewayDecision(
        _ bytes: [UInt8], tunnelId: String, connectorId: String, hub: TunnelHub, log: NodeLog
    ) -> MuxOpenDecision {
        guard let descriptor = StreamDescriptor.decode(bytes) else {
            return .refuse(code: .refused, reason: "unreadable stream descriptor")
        }
        guard let state = hub.connectorState.state else {
            return .refuse(code: .refused, reason: "this node has not applied the cluster state yet")
        }
        let decided = StreamPolicy.gatewayTarget(
            descriptor, tunnelId: tunnelId, connectorId: connectorId, in: state, nowMs: APICall.nowMillis())
        switch decided {
        case .failure(let refusal):
            hub.metrics.increment("warren_streams_refused_total{reason=\"unmapped\"}")
            log.warn("refused a connector stream", ["tunnel": tunnelId, "mapping": descriptor.mapping, "reason": refusal.reason])
            return .refuse(code: .notPermitted, reason: refusal.reason)
        case .success(let target):
            guard let address = try? SocketAddress(parsing: target) else {
                return .refuse(code: .connectFailed, reason: "cannot resolve \(target)")
            }
            return .dial(address)
        }
    }
}
