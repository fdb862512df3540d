import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// `tunnel close --wait`: after the close is committed, every member confirms that it
/// has applied it — which ends, on that node, every session and listener of the tunnel —
/// and reports what it ended. The answer lists each node; a node that does not confirm
/// within the timeout is listed as unconfirmed (and the receipt as incomplete).
extension AdminAPI {
    struct NodeReceipt: Codable, Sendable {
        var node: String
        var confirmed: Bool
        var sessionsEnded: Int
        var liveSessions: Int
        var listeners: Int
        var error: String?
    }

    struct CloseReceipt: Encodable, Sendable {
        var complete: Bool
        var nodes: [NodeReceipt]
    }

    struct ClosedWithReceipt: Encodable, Sendable {
        var tunnel: TunnelRecord
        var receipt: CloseReceipt
    }

    /// `POST /v1/tunnels/:id/close` with `{"wait": true, "timeoutSeconds": S}`.
    func closeTunnelAndWait(_ call: APICall, timeoutSeconds: Int) {
        let id = call.param("id")
        let controller = self.controller
        controller.write(command(call, .tunnelClose(.init(id: id, reason: .admin))), on: call.responder.execute) {
            result in
            let tunnel: TunnelRecord
            switch result {
            case .failure(let error): return call.fail(error)
            case .success(.error(let refusal)): return call.fail(APIError(refusal))
            case .success(let ok):
                guard let record = ok.object(TunnelRecord.self) else {
                    return call.fail(APIError(500, "internal", "unreadable tunnel"))
                }
                tunnel = record
            }
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutSeconds) * 1_000_000_000
            controller.readIndex(deadline: deadline) { index in
                guard case .success(let index) = index else {
                    return call.ok(ClosedWithReceipt(tunnel: tunnel, receipt: .init(complete: false, nodes: [])))
                }
                controller.raft.loop.execute {
                    // Every member the cluster knows, with its API address.
                    var members: [String: String] = [:]
                    for m in controller.config.members { members[m.id] = m.api }
                    for m in controller.machine.state.members.values { members[m.id] = m.apiAddress }
                    let list = members.sorted { $0.key < $1.key }
                    DispatchQueue.global().async {
                        let answers = Mutex<[NodeReceipt]>([])
                        DispatchQueue.concurrentPerform(iterations: list.count) { i in
                            let (name, api) = list[i]
                            let receipt: NodeReceipt
                            if name == self.nodeID {
                                let local = BlockingResult<NodeReceipt>()
                                self.localReceipt(tunnelId: id, index: index, timeout: timeoutSeconds) { local.set($0) }
                                receipt = local.wait()
                            } else {
                                receipt = controller.nodeReceipt(
                                    name: name, api: api, tunnelId: id, index: index, timeoutSeconds: timeoutSeconds)
                            }
                            answers.withLock { $0.append(receipt) }
                        }
                        let nodes = answers.withLock { $0 }.sorted { $0.node < $1.node }
                        let complete = nodes.allSatisfy { $0.confirmed && $0.liveSessions == 0 && $0.listeners == 0 }
                        call.ok(ClosedWithReceipt(tunnel: tunnel, receipt: .init(complete: complete, nodes: nodes)))
                    }
                }
            }
        }
    }

    /// `GET /v1/internal/tunnel-receipt?tunnel=ID&index=N&timeout=S` (node certificate):
    /// answers once this node has applied index N (or after the timeout, unconfirmed).
    func internalTunnelReceipt(_ call: APICall) {
        let tunnelId = call.request.query["tunnel"] ?? ""
        guard let index = call.request.query["index"].flatMap({ UInt64($0) }) else {
            return call.fail(.badRequest("index is required"))
        }
        let timeout = min(max(call.request.query["timeout"].flatMap { Int($0) } ?? 10, 1), 3600)
        localReceipt(tunnelId: tunnelId, index: index, timeout: timeout) { call.ok($0) }
    }

    /// This node's receipt once it has applied `index` (unconfirmed after `timeout` s).
    func localReceipt(
        tunnelId: String, index: UInt64, timeout: Int, completion: @escaping @Sendable (NodeReceipt) -> Void
    ) {
        let answered = Atomic<Bool>(false)
        let hub = self.hub
        let nodeID = self.nodeID
        let finish: @Sendable (Bool) -> Void = { confirmed in
            guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
            let held = hub.receipt(tunnelId: tunnelId)
            completion(
                NodeReceipt(
                    node: nodeID, confirmed: confirmed, sessionsEnded: held.sessionsEnded,
                    liveSessions: held.liveSessions, listeners: held.listeners,
                    error: confirmed ? nil : "did not apply the close within \(timeout) s"))
        }
        controller.raft.whenApplied(index) { finish(true) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout)) { finish(false) }
    }
}

extension ClusterController {
    /// One member's receipt, asked over HTTPS with this node's certificate.
    func nodeReceipt(name: String, api: String, tunnelId: String, index: UInt64, timeoutSeconds: Int)
        -> AdminAPI.NodeReceipt
    {
        func failed(_ why: String) -> AdminAPI.NodeReceipt {
            .init(node: name, confirmed: false, sessionsEnded: 0, liveSessions: 0, listeners: 0, error: why)
        }
        let path = "/v1/internal/tunnel-receipt?tunnel=\(tunnelId)&index=\(index)&timeout=\(timeoutSeconds)"
        switch callOnce(api, HTTPClientRequest(path: path), timeoutMillis: (timeoutSeconds + 1) * 1000) {
        case .failure(let error):
            return failed("\(error)")
        case .success(let response):
            guard response.status == .ok,
                let receipt = try? JSONDecoder().decode(AdminAPI.NodeReceipt.self, from: Data(response.body))
            else { return failed("answered \(response.status)") }
            return receipt
        }
    }
}
