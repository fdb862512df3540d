import Foundation

/// Proxy endpoints with their scopes, forwarding rules, connectors.
extension AdminAPI {
    func listEndpoints(_ call: APICall) {
        read(call) { state in .success(state.endpoints.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }) }
    }

    struct EndpointDetail: Encodable, Sendable {
        var endpoint: EndpointRecord
        var forwards: [ForwardRule]
    }

    func showEndpoint(_ call: APICall) {
        let id = call.param("id")
        read(call) { (state: ControlState) -> Result<EndpointDetail, APIError> in
            guard let endpoint = state.endpoints[id] else { return .failure(.notFound("no endpoint \(id)")) }
            return .success(
                EndpointDetail(
                    endpoint: endpoint,
                    forwards: state.forwards.values.filter { $0.endpointId == id }.sorted { $0.id < $1.id }))
        }
    }

    func createEndpoint(_ call: APICall) {
        let op: OpPayload.EndpointCreate
        do {
            op = try call.decode { body throws(ConfigError) in
                OpPayload.EndpointCreate(
                    id: Self.newID("e"), name: try body.requireString("name"), connectorId: try body.string("connectorId"),
                    vpc: try body.string("vpc"), subnets: try body.stringList("subnets") ?? [])
            }
        } catch { return call.fail(error) }
        write(call, .endpointCreate(op), status: .created)
    }

    func scopeEndpoint(_ call: APICall, associate: Bool) {
        let id = call.param("id")
        let op: OpPayload.EndpointScope
        do {
            op = try call.decode { body throws(ConfigError) in
                OpPayload.EndpointScope(id: id, vpc: try body.string("vpc"), subnets: try body.stringList("subnets") ?? [])
            }
        } catch { return call.fail(error) }
        write(call, associate ? .endpointAssociate(op) : .endpointUnassociate(op))
    }

    func listForwards(_ call: APICall) {
        let endpoint = call.request.query["endpoint"]
        read(call) { state in
            .success(
                state.forwards.values.filter { endpoint == nil || $0.endpointId == endpoint }.sorted { $0.id < $1.id })
        }
    }

    func addForward(_ call: APICall) {
        let op: OpPayload.ForwardAdd
        do {
            op = try call.decode { body throws(ConfigError) in
                let endpointId = try body.requireString("endpointId")
                let kindText = try body.string("kind") ?? "local"
                guard let kind = ForwardRule.Kind(rawValue: kindText) else {
                    throw ConfigError("kind", "must be local or remote, not \"\(kindText)\"")
                }
                guard let port = try body.int("listenPort", in: 1...65535) else {
                    throw ConfigError("listenPort", "is required")
                }
                return OpPayload.ForwardAdd(
                    id: Self.newID("f"), endpointId: endpointId, kind: kind, listenPort: port,
                    target: try body.requireString("target"))
            }
        } catch { return call.fail(error) }
        write(call, .forwardAdd(op), status: .created)
    }

    func listConnectors(_ call: APICall) {
        let tunnel = call.request.query["tunnel"]
        read(call) { state in
            .success(state.connectors.values.filter { tunnel == nil || $0.tunnelId == tunnel }.sorted { $0.id < $1.id })
        }
    }
}
