import Foundation
import Tunnel

/// Tunnels (create with a one-time connect URL, list, show, close) and mappings.
extension AdminAPI {
    struct CreatedTunnel: Encodable, Sendable {
        var tunnel: TunnelRecord
        /// Shown once: it carries the enrolment secret, of which only a hash is stored.
        var connectUrl: String
    }

    func createTunnel(_ call: APICall) {
        let request: (name: String, seconds: Int64)
        do {
            request = try call.decode { body throws(ConfigError) in
                let name = try body.requireString("name")
                let text = try body.string("duration") ?? "24h"
                guard let seconds = DurationText.seconds(text) else {
                    throw ConfigError("duration", "must be like 24h, 48h, 90m or 3600s, not \"\(text)\"")
                }
                return (name, seconds)
            }
        } catch { return call.fail(error) }
        let id = Self.newID("t")
        let secret = Base64URL.encode(SecureRandom.bytes(32))
        let tokenHash = Hex.encode(SHA256.hash(secret))
        let now = APICall.nowMillis()
        let op = OpPayload.TunnelCreate(
            id: id, name: request.name, durationSeconds: request.seconds, tokenHash: tokenHash,
            tokenExpiresAt: now + min(request.seconds, 24 * 3600) * 1000)
        let host = call.request.headers["host"] ?? controller.config.apiListen
        let url = "https://\(host)/v1/connect/\(id)?token=\(secret)&ca=sha256:\(caFingerprint)"
        controller.write(command(call, .tunnelCreate(op)), on: call.responder.execute) { result in
            switch result {
            case .failure(let error): call.fail(error)
            case .success(.error(let refusal)): call.fail(APIError(refusal))
            case .success(.ok(let tunnel)):
                call.ok(Self.createdTunnelBody(tunnelJSON: tunnel, connectUrl: url), status: .created)
            }
        }
    }

    /// `CreatedTunnel` in canonical JSON, spliced: the state machine's result already is
    /// the tunnel's canonical JSON, so it is not decoded and encoded again (that was a
    /// sixth of the HTTPS loop's time per write). Equal to encoding `CreatedTunnel` (tested).
    static func createdTunnelBody(tunnelJSON: [UInt8], connectUrl: String) -> [UInt8] {
        var body = Array("{\"connectUrl\":".utf8)
        CanonicalJSONWriter.string(connectUrl, &body)
        return body + Array(",\"tunnel\":".utf8) + tunnelJSON + [UInt8(ascii: "}")]
    }

    /// The cluster CA's SHA-256 fingerprint, pinned in connect URLs.
    var caFingerprint: String { controller.tls.caFingerprint }

    func listTunnels(_ call: APICall) {
        let stateFilter = call.request.query["state"]
        read(call) { state in
            .success(
                state.tunnels.values.filter { stateFilter == nil || $0.state.rawValue == stateFilter }
                    .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) })
        }
    }

    struct TunnelDetail: Encodable, Sendable {
        var tunnel: TunnelRecord
        var mappings: [MappingRecord]
        var connectors: [ConnectorRecord]
    }

    func showTunnel(_ call: APICall) {
        let id = call.param("id")
        read(call) { (state: ControlState) -> Result<TunnelDetail, APIError> in
            guard let tunnel = state.tunnels[id] else { return .failure(.notFound("no tunnel \(id)")) }
            return .success(
                TunnelDetail(
                    tunnel: tunnel, mappings: state.mappings.values.filter { $0.tunnelId == id }.sorted { $0.id < $1.id },
                    connectors: state.connectors.values.filter { $0.tunnelId == id }.sorted { $0.id < $1.id }))
        }
    }

    /// Answers once the close is committed (and applied here); with `{"wait": true}`,
    /// once every node confirmed it ended the tunnel's sessions (a receipt).
    func closeTunnel(_ call: APICall) {
        var wait = false
        var timeout = 10
        if !call.request.body.isEmpty && call.request.body != Array("{}".utf8) {
            do {
                (wait, timeout) = try call.decode { body throws(ConfigError) in
                    (try body.bool("wait") ?? false, try body.int("timeoutSeconds", in: 1...3600) ?? 10)
                }
            } catch { return call.fail(error) }
        }
        if wait { return closeTunnelAndWait(call, timeoutSeconds: timeout) }
        write(call, .tunnelClose(.init(id: call.param("id"), reason: .admin)))
    }

    func listMappings(_ call: APICall) {
        let tunnel = call.request.query["tunnel"]
        read(call) { state in
            .success(
                state.mappings.values.filter { tunnel == nil || $0.tunnelId == tunnel }.sorted {
                    ($0.tunnelId, $0.listenPort, $0.id) < ($1.tunnelId, $1.listenPort, $1.id)
                })
        }
    }

    func addMapping(_ call: APICall) {
        let op: OpPayload.MappingAdd
        do {
            op = try call.decode { body throws(ConfigError) in
                let tunnelId = try body.requireString("tunnelId")
                let kindText = try body.string("kind") ?? "expose"
                guard let kind = MappingRecord.Kind(rawValue: kindText) else {
                    throw ConfigError("kind", "must be expose or publish, not \"\(kindText)\"")
                }
                let target = try body.requireString("target")
                guard let port = try body.int("listenPort", in: 1...65535) else {
                    throw ConfigError("listenPort", "is required")
                }
                let allow = try body.stringList("allow") ?? []
                return OpPayload.MappingAdd(
                    id: Self.newID("m"), tunnelId: tunnelId, kind: kind, target: target, listenPort: port, allow: allow)
            }
        } catch { return call.fail(error) }
        write(call, .mappingAdd(op), status: .created)
    }
}

/// Durations as operators write them: `24h`, `48h`, `90m`, `3600s`, `2d`.
enum DurationText {
    static func seconds(_ text: String) -> Int64? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value > 0, value < 1_000_000_000 else {
            return nil
        }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86400
        default: return nil
        }
    }
}
