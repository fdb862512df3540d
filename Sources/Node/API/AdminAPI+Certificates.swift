import Foundation
internal import Synchronization
import Tunnel

/// CA rotation (`/v1/cert/rotate-ca`) and node certificate revocation
/// (`/v1/nodes/:id/revoke`). Both change the replicated trust bundle, which every node
/// applies to its TLS contexts when the change commits (NodeServer+Trust.swift).
///
/// A rotation has two phases: `steady` (one CA) and `overlap` (old and new CA both
/// trusted). `begin` adds the new CA's certificate — its key never travels: it stays in
/// the PKI folders as `ca-next-key.pem` — `finish` drops the old CA once every member and
/// every live connector presents a certificate of the new one, `abort` drops the new CA.
extension AdminAPI {
    struct CAView: Codable, Sendable {
        var fingerprint: String
        var subject: String
        /// Unix seconds.
        var notAfter: Int64
    }

    struct MemberCertificateView: Codable, Sendable {
        var id: String
        var serial: String?
        /// Fingerprint of the CA that issued the certificate the member presents now.
        var ca: String?
        var moved: Bool
    }

    struct ConnectorCertificateView: Codable, Sendable {
        var id: String
        var tunnelId: String
        var serial: String
        var ca: String?
        /// Unix ms.
        var expiresAt: Int64
        var moved: Bool
    }

    /// `GET /v1/cert/rotate-ca` and the `finish` check.
    struct RotationStatus: Codable, Sendable {
        /// `steady` or `overlap`.
        var phase: String
        var cas: [CAView]
        var oldCA: String?
        var newCA: String?
        var members: [MemberCertificateView]
        var connectors: [ConnectorCertificateView]
        /// Who still presents a certificate of the old CA (or could not be asked).
        var pending: [String]
        var revokedSerials: Int
    }

    // MARK: status

    /// The trust bundle (or this node's CA file before the first rotation) as certificates.
    private static func bundle(_ state: ControlState, caFile: String) -> [Certificate] {
        if !state.trust.caPEMs.isEmpty { return state.trust.caPEMs.compactMap { try? Certificate(pem: $0) } }
        return (try? Certificate.all(fromPEM: PKIFile.readText(caFile))) ?? []
    }

    /// Builds the rotation status: the bundle from a linearizable read, each member's
    /// certificate asked live (1 s each, in parallel), connectors from the state.
    func rotationStatus(completion: @escaping @Sendable (Result<RotationStatus, APIError>) -> Void) {
        let controller = self.controller
        let caFile = controller.config.caFile
        let nowMs = APICall.nowMillis()
        struct Snapshot: Sendable {
            var cas: [Certificate]
            var revoked: Int
            var members: [(id: String, api: String)]
            var connectors: [ConnectorRecord]
        }
        controller.read(stale: false, { state -> Snapshot in
            var members = state.members.values.map { (id: $0.id, api: $0.apiAddress) }
            if members.isEmpty { members = controller.config.members.map { (id: $0.id, api: $0.api) } }
            let live = state.connectors.values.filter { c in
                guard !c.revoked, c.certificateExpiresAt > nowMs, let t = state.tunnels[c.tunnelId] else { return false }
                return t.state == .open && t.expiresAt > nowMs
            }
            return Snapshot(
                cas: Self.bundle(state, caFile: caFile), revoked: state.trust.revokedSerials.count,
                members: members.sorted { $0.id < $1.id }, connectors: live.sorted { $0.id < $1.id })
        }) { result in
            switch result {
            case .failure(let error): return completion(.failure(error))
            case .success(let snapshot):
                DispatchQueue.global().async {
                    completion(.success(Self.status(snapshot.cas, snapshot.revoked, snapshot.members, snapshot.connectors, controller)))
                }
            }
        }
    }

    private static func status(
        _ cas: [Certificate], _ revoked: Int, _ members: [(id: String, api: String)], _ connectors: [ConnectorRecord],
        _ controller: ClusterController
    ) -> RotationStatus {
        let overlap = cas.count > 1
        let oldCA = overlap ? cas.first?.fingerprintHex.lowercased() : nil
        let newCA = cas.last?.fingerprintHex.lowercased()
        let answers = Mutex<[String: (serial: String, ca: String?)]>([:])
        DispatchQueue.concurrentPerform(iterations: members.count) { i in
            let member = members[i]
            if member.id == controller.config.id {
                let own = controller.tls.certificate
                let ca = ConnectorSigner.issuer(of: own, among: cas, at: Int64(Date().timeIntervalSince1970))
                answers.withLock { $0[member.id] = (own.serialHex, ca) }
            } else if let info = controller.nodeCertificate(member.api) {
                answers.withLock { $0[member.id] = info }
            }
        }
        let found = answers.withLock { $0 }
        var pending: [String] = []
        let memberViews = members.map { member -> MemberCertificateView in
            let info = found[member.id]
            let moved = info != nil && (!overlap || info?.ca == newCA)
            if info == nil {
                pending.append("node \(member.id) (did not answer)")
            } else if !moved {
                pending.append("node \(member.id)")
            }
            return MemberCertificateView(id: member.id, serial: info?.serial, ca: info?.ca, moved: moved)
        }
        let connectorViews = connectors.map { c -> ConnectorCertificateView in
            let moved = !overlap || c.caFingerprint == newCA
            if !moved { pending.append("connector \(c.id)") }
            return ConnectorCertificateView(
                id: c.id, tunnelId: c.tunnelId, serial: c.certificateSerial, ca: c.caFingerprint,
                expiresAt: c.certificateExpiresAt, moved: moved)
        }
        return RotationStatus(
            phase: overlap ? "overlap" : "steady",
            cas: cas.map {
                CAView(fingerprint: $0.fingerprintHex.lowercased(), subject: $0.subjectCommonName ?? "", notAfter: $0.notAfter)
            },
            oldCA: oldCA, newCA: overlap ? newCA : nil, members: memberViews, connectors: connectorViews,
            pending: pending, revokedSerials: revoked)
    }

    func rotateCAStatus(_ call: APICall) {
        rotationStatus { result in
            switch result {
            case .failure(let error): call.fail(error)
            case .success(let status): call.ok(status)
            }
        }
    }

    // MARK: steps

    /// `POST /v1/cert/rotate-ca {"action":"begin","ca":PEM}` | `{"action":"finish","force"?:bool}` | `{"action":"abort"}`.
    func rotateCA(_ call: APICall) {
        let request: (action: String, ca: String?, force: Bool)
        do {
            request = try call.decode { body throws(ConfigError) in
                let action = try body.requireString("action")
                guard ["begin", "finish", "abort"].contains(action) else {
                    throw ConfigError("action", "must be begin, finish or abort")
                }
                return (action, try body.string("ca"), try body.bool("force") ?? false)
            }
        } catch { return call.fail(error) }
        switch request.action {
        case "begin": beginRotation(call, caPEM: request.ca)
        case "finish": finishRotation(call, force: request.force)
        default: abortRotation(call)
        }
    }

    private func beginRotation(_ call: APICall, caPEM: String?) {
        guard let caPEM else { return call.fail(.badRequest("begin needs \"ca\": the new CA certificate (PEM)")) }
        let now = Int64(Date().timeIntervalSince1970)
        let newPEM: String
        do {
            let certificates = try Certificate.all(fromPEM: caPEM)
            guard certificates.count == 1, let ca = certificates.first, ca.isCA else {
                throw APIError.badRequest("\"ca\" must be exactly one CA certificate (CA:TRUE)", code: "invalid_value")
            }
            guard ca.isValid(at: now) else {
                throw APIError.badRequest("the new CA is not valid now (notAfter \(ca.notAfter))", code: "invalid_value")
            }
            newPEM = try ca.pemString()
        } catch let error as APIError {
            return call.fail(error)
        } catch {
            return call.fail(.badRequest("\"ca\": \(error)", code: "invalid_value"))
        }
        let caFile = controller.config.caFile
        controller.read(stale: false, { state -> Result<[String], APIError> in
            let current = Self.bundle(state, caFile: caFile).compactMap { try? $0.pemString() }
            guard current.count == 1 else {
                return .failure(
                    APIError(.conflict, "rotation_in_progress", "a CA rotation is in progress: finish or abort it first"))
            }
            guard !current.contains(newPEM) else {
                return .failure(APIError(.conflict, "already_trusted", "that CA is already the cluster's CA"))
            }
            return .success(current + [newPEM])
        }) { [self] result in
            switch result {
            case .failure(let error), .success(.failure(let error)): call.fail(error)
            case .success(.success(let list)): write(call, .trustSetCAs(.init(caPEMs: list, step: "begin")))
            }
        }
    }

    private func finishRotation(_ call: APICall, force: Bool) {
        let caller = call.request.clientCertificate
        rotationStatus { [self] result in
            guard case .success(let status) = result else {
                if case .failure(let error) = result { call.fail(error) }
                return
            }
            guard status.phase == "overlap", let newCA = status.newCA,
                let newPEM = controller.tls.authorities.first(where: { $0.fingerprintHex.lowercased() == newCA })
                    .flatMap({ try? $0.pemString() })
            else {
                return call.fail(APIError(.conflict, "no_rotation", "no CA rotation is in progress (run begin first)"))
            }
            var pending = status.pending
            if let caller, caller.role == .admin,
                ConnectorSigner.issuer(of: caller, among: controller.tls.authorities, at: Int64(Date().timeIntervalSince1970))
                    != newCA
            {
                pending.append("the admin certificate of this call (issue one under the new CA first)")
            }
            guard pending.isEmpty || force else {
                return call.fail(
                    APIError(
                        .conflict, "not_moved",
                        "still on the old CA: \(pending.joined(separator: ", ")) (renew them, or pass force)"))
            }
            write(call, .trustSetCAs(.init(caPEMs: [newPEM], step: "finish")))
        }
    }

    private func abortRotation(_ call: APICall) {
        let caFile = controller.config.caFile
        controller.read(stale: false, { state -> Result<[String], APIError> in
            let current = Self.bundle(state, caFile: caFile).compactMap { try? $0.pemString() }
            guard current.count == 2 else {
                return .failure(APIError(.conflict, "no_rotation", "no CA rotation is in progress"))
            }
            return .success([current[0]])
        }) { [self] result in
            switch result {
            case .failure(let error), .success(.failure(let error)): call.fail(error)
            case .success(.success(let list)): write(call, .trustSetCAs(.init(caPEMs: list, step: "abort")))
            }
        }
    }

    // MARK: node revocation

    /// `POST /v1/nodes/:id/revoke [{"serial":HEX}]`: revokes the node's certificate — the
    /// serial given, else the one it presents now (asked live). Every node then refuses
    /// that serial at every handshake, on both ports and as a client.
    func revokeNode(_ call: APICall) {
        let id = call.param("id")
        var serial: String?
        if !call.request.body.isEmpty {
            do { serial = try call.decode { body throws(ConfigError) in try body.string("serial") } } catch {
                return call.fail(error)
            }
        }
        let controller = self.controller
        if let serial { return write(call, .trustRevokeSerial(.init(serial: serial, node: id))) }
        if id == controller.config.id {
            return write(call, .trustRevokeSerial(.init(serial: controller.tls.certificate.serialHex, node: id)))
        }
        controller.read(stale: false, { state -> String? in
            state.members[id]?.apiAddress ?? controller.config.members.first { $0.id == id }?.api
        }) { [self] result in
            switch result {
            case .failure(let error): return call.fail(error)
            case .success(nil): return call.fail(.notFound("no member \(id)"))
            case .success(let address?):
                DispatchQueue.global().async { [self] in
                    guard let info = controller.nodeCertificate(address) else {
                        return call.fail(
                            .unavailable("\(id) did not say which certificate it presents; pass its serial explicitly"))
                    }
                    write(call, .trustRevokeSerial(.init(serial: info.serial, node: id)))
                }
            }
        }
    }
}

extension ClusterController {
    /// The serial and issuing CA another member presents now, or nil if it does not
    /// answer within a second. Blocking: off the event loops.
    func nodeCertificate(_ address: String) -> (serial: String, ca: String?)? {
        let request = HTTPClientRequest(path: "/v1/internal/node-info")
        guard case .success(let response) = callOnce(address, request, timeoutMillis: 1000), response.status == .ok,
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: String],
            let serial = json["serial"]
        else { return nil }
        return (serial, json["ca"])
    }
}
