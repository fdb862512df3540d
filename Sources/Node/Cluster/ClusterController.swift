import Consensus
import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// Reads and writes of the replicated control state from any node.
///
/// Writes: the leader proposes locally; a follower forwards the command (already stamped
/// with time, actor and ids) to the leader's `/v1/internal/propose` over mutual TLS with
/// its node certificate. Only definite refusals (not leader, no leader yet, connection
/// refused before sending) are retried, for up to `leaderWaitMillis`, so a write is never
/// applied twice by a retry; anything ambiguous is reported as such.
///
/// Reads: linearizable by ReadIndex — on the leader directly, on a follower by asking the
/// leader for its read index (`/v1/internal/read-index`) and waiting to apply up to it.
///
/// Threading: any thread. Completions run on the Raft loop or a forwarding thread; the
/// HTTP responder they complete hops to its own loop.
final class ClusterController: @unchecked Sendable {
    let config: NodeConfig
    let raft: RaftHost
    let machine: ControlStateMachine
    let tls: NodeTLS
    let log: NodeLog
    /// How long a write or read waits for a leader to be elected or reachable.
    var leaderWaitMillis = 5000
    private let forwarding = DispatchQueue(label: "warren.forward", attributes: .concurrent)
    private let idleClients = Mutex<[String: [PooledClient]]>([:])

    init(config: NodeConfig, raft: RaftHost, machine: ControlStateMachine, tls: NodeTLS, log: NodeLog) {
        self.config = config
        self.raft = raft
        self.machine = machine
        self.tls = tls
        self.log = log
    }

    // MARK: writes

    /// Runs a closure on some thread (an HTTP connection's loop: `HTTPResponder.execute`).
    typealias Executor = @Sendable (@escaping @Sendable () -> Void) -> Void

    /// Applies `command` through the leader; completion gets the state machine's verdict.
    /// With `executor`, a local commit's result is parsed and `completion` runs there
    /// instead of on the Raft loop, which is the leader's one serial resource: answering
    /// there cost a sixth of its time under load.
    func write(
        _ command: ControlCommand, on executor: Executor? = nil,
        completion: @escaping @Sendable (Result<ControlResult, APIError>) -> Void
    ) {
        let bytes = command.encoded()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(leaderWaitMillis) * 1_000_000
        attemptWrite(bytes, deadline: deadline, executor: executor, completion: completion)
    }

    private func attemptWrite(
        _ bytes: [UInt8], deadline: UInt64, executor: Executor? = nil,
        completion: @escaping @Sendable (Result<ControlResult, APIError>) -> Void
    ) {
        raft.propose(bytes) { [self] result in
            switch result {
            case .success(let answer):
                if let executor { executor { completion(Self.parse(answer)) } } else { completion(Self.parse(answer)) }
            case .failure(.notLeader(let hint)), .failure(.transferring(let hint)):
                // Definite: nothing was appended here. Forward to the leader (if known).
                let leader = hint == 0 ? nil : apiAddress(of: hint)
                forwarding.async { [self] in
                    forwardWrite(bytes, to: leader, deadline: deadline, completion: completion)
                }
            case .failure(let error):
                completion(.failure(Self.apiError(error)))
            }
        }
    }

    private func forwardWrite(
        _ bytes: [UInt8], to leader: String?, deadline: UInt64,
        completion: @escaping @Sendable (Result<ControlResult, APIError>) -> Void
    ) {
        func retryLater(_ why: String) {
            guard DispatchTime.now().uptimeNanoseconds < deadline else {
                return completion(.failure(.unavailable("no leader accepted the write in time: \(why)")))
            }
            forwarding.asyncAfter(deadline: .now() + .milliseconds(25)) { [self] in
                attemptWrite(bytes, deadline: deadline, completion: completion)
            }
        }
        guard let leader else { return retryLater("no leader is known yet") }
        switch call(leader, HTTPClientRequest(method: "POST", path: "/v1/internal/propose", body: bytes)) {
        case .success(let response) where response.status == .ok:
            completion(Self.parse(response.body))
        case .success(let response) where response.status.code == 421:
            retryLater("\(leader) is no longer the leader")
        case .success(let response):
            completion(.failure(Self.remoteError(response, from: leader)))
        case .failure(let error) where error.code == .connect || error.code == .resolve:
            retryLater("\(leader): \(error)")
        case .failure(let error):
            // The request may have reached the leader: the outcome is unknown.
            completion(.failure(.unavailable("forwarding to the leader failed (the write may still apply): \(error)")))
        }
    }

    // MARK: reads

    /// Runs `body` on the control state once it reflects every write acknowledged before
    /// this call (ReadIndex). `stale` skips the leader round trip.
    func read<T: Sendable>(
        stale: Bool = false, _ body: @escaping (ControlState) -> T,
        completion: @escaping @Sendable (Result<T, APIError>) -> Void
    ) {
        // The state machine and `body` are only touched on the Raft loop (inside whenApplied).
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let machine = self.machine
        if stale {
            raft.whenApplied(0) { completion(.success(body(machine.state))) }
            return
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(leaderWaitMillis) * 1_000_000
        readIndex(deadline: deadline) { [self] result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let index): raft.whenApplied(index) { completion(.success(body(machine.state))) }
            }
        }
    }

    /// The index a read must wait for: from the local driver when leader, else from the leader.
    func readIndex(deadline: UInt64, completion: @escaping @Sendable (Result<UInt64, APIError>) -> Void) {
        raft.leaderRead { [self] result in
            switch result {
            case .success(let index): completion(.success(index))
            case .failure(.notLeader(let hint)), .failure(.transferring(let hint)):
                let leader = hint == 0 ? nil : apiAddress(of: hint)
                forwarding.async { [self] in
                    func retryLater(_ why: String) {
                        guard DispatchTime.now().uptimeNanoseconds < deadline else {
                            return completion(.failure(.unavailable("no leader answered the read in time: \(why)")))
                        }
                        forwarding.asyncAfter(deadline: .now() + .milliseconds(25)) { [self] in
                            readIndex(deadline: deadline, completion: completion)
                        }
                    }
                    guard let leader else { return retryLater("no leader is known yet") }
                    switch call(leader, HTTPClientRequest(method: "POST", path: "/v1/internal/read-index")) {
                    case .success(let response) where response.status == .ok:
                        struct Answer: Decodable { var index: UInt64 }
                        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)) else {
                            return completion(.failure(.unavailable("the leader's read index is unreadable")))
                        }
                        completion(.success(answer.index))
                    case .success(let response) where response.status.code == 421:
                        retryLater("\(leader) is no longer the leader")
                    case .success(let response):
                        completion(.failure(Self.remoteError(response, from: leader)))
                    case .failure(let error):
                        retryLater("\(leader): \(error)")
                    }
                }
            case .failure(let error):
                completion(.failure(Self.apiError(error)))
            }
        }
    }

    // MARK: leader lookup and node-to-node calls

    /// The API address (`host:port`) of member `id`: from the replicated member list,
    /// else from this node's config. Raft loop only.
    func apiAddress(of id: NodeID) -> String? {
        if let member = machine.state.members.values.first(where: { $0.raftId == id }) { return member.apiAddress }
        return config.members.first { NodeIdentity.raftID($0.id) == id }?.api
    }

    /// One request to another node's API with this node's certificate, over a pooled
    /// keep-alive connection. Blocking: forwarding threads only.
    func call(_ address: String, _ request: HTTPClientRequest) -> Result<HTTPClientResponse, HTTPClientError> {
        let client: HTTPClient
        if let pooled = idleClients.withLock({ $0[address]?.popLast() }) {
            client = pooled.client
        } else {
            guard let parsed = try? SocketAddress(parsing: address) else {
                return .failure(HTTPClientError(.resolve, "bad member address \(address)"))
            }
            client = HTTPClient(
                host: parsed.host, port: parsed.port, tls: tls.apiClient.current,
                serverName: HostPort.host(of: address), timeoutMillis: 5000)
        }
        do {
            let response = try client.send(request)
            let keep = PooledClient(client)
            idleClients.withLock { pool in
                if pool[address, default: []].count < 16 { pool[address, default: []].append(keep) }
            }
            return .success(response)
        } catch {
            client.close()
            return .failure(error)
        }
    }

    /// Another member's certificate serial and expiry, or nil if it does not answer
    /// within a second. Blocking: off the event loops.
    /// What a member reports of itself for `status`.
    struct NodeInfo: Sendable {
        var certificate: AdminAPI.StatusView.CertificateView
        /// Live client sessions it holds (nil from a node too old to say).
        var sessions: Int?
    }

    func nodeInfo(_ address: String) -> NodeInfo? {
        let request = HTTPClientRequest(path: "/v1/internal/node-info")
        guard case .success(let response) = callOnce(address, request, timeoutMillis: 1000), response.status == .ok,
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: String],
            let serial = json["serial"], let notAfter = json["notAfter"].flatMap({ Int64($0) })
        else { return nil }
        return NodeInfo(certificate: .init(serial: serial, notAfter: notAfter), sessions: json["sessions"].flatMap { Int($0) })
    }

    /// One request to another node's API on a fresh connection with its own timeout
    /// (for calls whose wait differs from the pooled clients' 5 s). Blocking.
    func callOnce(_ address: String, _ request: HTTPClientRequest, timeoutMillis: Int)
        -> Result<HTTPClientResponse, HTTPClientError>
    {
        guard let parsed = try? SocketAddress(parsing: address) else {
            return .failure(HTTPClientError(.resolve, "bad member address \(address)"))
        }
        let client = HTTPClient(
            host: parsed.host, port: parsed.port, tls: tls.apiClient.current, serverName: HostPort.host(of: address),
            timeoutMillis: timeoutMillis)
        defer { client.close() }
        return Result { () throws(HTTPClientError) in try client.send(request) }
    }

    // MARK: mapping results

    static func parse(_ bytes: [UInt8]) -> Result<ControlResult, APIError> {
        guard let result = ControlResult.parse(bytes) else {
            return .failure(APIError(500, "internal", "the state machine's answer is unreadable"))
        }
        return .success(result)
    }

    static func apiError(_ error: RaftDriverError) -> APIError {
        switch error {
        case .busy: return .unavailable("too many writes in flight; retry")
        case .timeout, .outcomeUnknown:
            return .unavailable("the write was not confirmed in time (it may still apply): \(error)")
        case .stopped(let reason): return .unavailable("this node's Raft stopped: \(reason)")
        case .dropped: return .unavailable("the write lost its place in the log to a new leader; retry")
        case .confChangePending: return APIError(.conflict, "conflict", "another membership change is in progress")
        case .invalid(let reason): return APIError(.conflict, "conflict", reason)
        case .notLeader, .transferring: return .unavailable("leadership is changing; retry")
        }
    }

    static func remoteError(_ response: HTTPClientResponse, from node: String) -> APIError {
        struct Envelope: Decodable {
            struct Body: Decodable {
                var code: String
                var message: String
            }
            var error: Body
        }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(response.body)) {
            return APIError(response.status, envelope.error.code, envelope.error.message)
        }
        return .unavailable("the leader (\(node)) answered \(response.status)")
    }
}

/// An idle keep-alive client in the pool: owned by exactly one thread at a time (taken
/// out under the lock, used, put back), which is what makes the unchecked Sendable true.
private final class PooledClient: @unchecked Sendable {
    let client: HTTPClient
    init(_ client: HTTPClient) { self.client = client }
}
