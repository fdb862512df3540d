import Consensus
import Dispatch
import Foundation
import Tunnel

/// Membership changes and leadership transfer: they must run on the leader's driver, so a
/// follower forwards them to `/v1/internal/membership`.
extension ClusterController {
    struct MembershipAction: Codable, Sendable {
        enum Kind: String, Codable, Sendable { case add, remove, transfer }
        var kind: Kind
        /// The member's node id; for `transfer`, empty picks the most caught-up voter.
        var id: String
    }

    func membership(_ action: MembershipAction, completion: @escaping @Sendable (Result<String, APIError>) -> Void) {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(leaderWaitMillis) * 1_000_000
        attemptMembership(action, deadline: deadline, completion: completion)
    }

    /// Runs `action` here if this node leads; `notLeader(hint)` otherwise. Raft loop.
    private func runLocally(
        _ action: MembershipAction, completion: @escaping @Sendable (Result<String, RaftDriverError>) -> Void
    ) {
        raft.loop.execute { [self] in
            let status = raft.statusOnLoop.driver.core
            guard status.role == .leader else { return completion(.failure(.notLeader(hint: status.leader))) }
            switch action.kind {
            case .add:
                raft.addVoter(NodeIdentity.raftID(action.id)) { completion($0.map { "added \(action.id) as a voter" }) }
            case .remove:
                let id = NodeIdentity.raftID(action.id)
                guard status.conf.voters.contains(id) || status.conf.learners.contains(id) else {
                    return completion(.failure(.invalid(reason: "\(action.id) is not a member")))
                }
                raft.changeMembership(.remove(id)) { completion($0.map { "removed \(action.id)" }) }
            case .transfer:
                var target = action.id.isEmpty ? 0 : NodeIdentity.raftID(action.id)
                if target == 0 {
                    target =
                        status.progress.filter { $0.key != status.id && status.conf.voters.contains($0.key) }
                        .max { $0.value.match < $1.value.match }?.key ?? 0
                }
                guard target != 0 else { return completion(.failure(.invalid(reason: "no other voter to lead"))) }
                guard target != status.id else { return completion(.success("\(action.id) already leads")) }
                let name = apiName(of: target)
                raft.transferLeadership(to: target) { completion($0.map { "leadership moved to \(name)" }) }
            }
        }
    }

    private func attemptMembership(
        _ action: MembershipAction, deadline: UInt64, completion: @escaping @Sendable (Result<String, APIError>) -> Void
    ) {
        runLocally(action) { [self] result in
            switch result {
            case .success(let message): completion(.success(message))
            case .failure(.notLeader(let hint)):
                let leader = hint == 0 ? nil : apiAddress(of: hint)
                let body = CanonicalJSON.encode(action)
                DispatchQueue.global().async { [self] in
                    guard let leader else {
                        guard DispatchTime.now().uptimeNanoseconds < deadline else {
                            return completion(.failure(.unavailable("no leader is known")))
                        }
                        return DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(25)) { [self] in
                            attemptMembership(action, deadline: deadline, completion: completion)
                        }
                    }
                    switch call(leader, HTTPClientRequest(method: "POST", path: "/v1/internal/membership", body: body)) {
                    case .success(let response) where response.status == .ok:
                        struct Answer: Decodable { var message: String }
                        let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body))
                        completion(.success(answer?.message ?? "done"))
                    case .success(let response):
                        completion(.failure(Self.remoteError(response, from: leader)))
                    case .failure(let error):
                        completion(.failure(.unavailable("the leader (\(leader)) is unreachable: \(error)")))
                    }
                }
            case .failure(.invalid(let reason)):
                completion(.failure(APIError(.conflict, "conflict", reason)))
            case .failure(let error):
                completion(.failure(Self.apiError(error)))
            }
        }
    }

    /// A member's node id for messages, from the replicated list or config. Raft loop.
    func apiName(of id: NodeID) -> String {
        if id == raft.selfID { return config.id }
        if let member = machine.state.members.values.first(where: { $0.raftId == id }) { return member.id }
        return config.members.first { NodeIdentity.raftID($0.id) == id }?.id ?? String(id)
    }

    /// Raft status, links and the state, taken together on the Raft loop once this
    /// iteration's held inputs are processed (`RaftHost.settledStatusOnLoop`).
    func inspect(_ body: @escaping @Sendable (RaftDriverStatus, [String], ControlState) -> Void) {
        nonisolated(unsafe) let machine = self.machine
        raft.loop.execute { [self] in
            let (status, links) = raft.settledStatusOnLoop
            body(status, links, machine.state)
        }
    }
}
