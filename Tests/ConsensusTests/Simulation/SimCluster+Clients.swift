@testable import Consensus

/// The key/value workload: each client runs one operation at a time against the node it
/// believes leads, and the outcomes go into `history` for the linearizability check.
extension SimCluster {
    func clientStep(_ c: Int) {
        guard !healing, !clientBusy[c] else { return }
        let guess = clientGuess[c]
        let target = nodes[guess]?.driver != nil ? guess : order[Int(rng.below(UInt64(order.count)))]
        let key = UInt8(rng.below(params.keys))
        let isPut = rng.below(2) == 0
        let op = history.count
        let value = isPut ? nextValue : 0
        if isPut { nextValue += 1 }
        history.append(LinOp(client: c, key: key, isPut: isPut, value: value, invoke: now))
        clientBusy[c] = true
        // Clients give up after a while (and the request may still arrive later).
        queue.push(.clientTimeout(op: op), at: now + 150 + rng.below(200))
        invoke(op, on: target)
    }

    /// Delivers a client request to a node; a paused node sees it when it resumes (the
    /// request waited in its socket), which is when stale leaders get caught.
    func invoke(_ op: Int, on target: NodeID) {
        guard let node = nodes[target], let d = node.driver else {
            finish(op, .failed)
            return
        }
        if node.paused {
            queue.push(.invoke(op: op, node: target), at: now + params.tickMs)
            return
        }
        let c = history[op].client
        let key = history[op].key
        if history[op].isPut {
            d.propose(SimKV.putCommand(key: key, value: history[op].value), timeoutTicks: 100) { [unowned self] r in
                switch r {
                case .success: self.finish(op, .ok)
                case .failure(let e): self.finish(op, self.outcome(e, client: c))
                }
            }
        } else {
            d.read(timeoutTicks: 100) { [unowned self, unowned node] r in
                switch r {
                case .success:
                    self.history[op].value = node.kv.kv[key] ?? 0
                    self.finish(op, .ok)
                case .failure(let e): self.finish(op, self.outcome(e, client: c))
                }
            }
        }
        afterInput(node)
    }

    func outcome(_ e: RaftDriverError, client c: Int) -> LinOp.Status {
        switch e {
        case .notLeader(let hint):
            clientGuess[c] = hint
            return .failed
        case .transferring(let to):
            clientGuess[c] = to
            return .failed
        case .busy, .confChangePending, .invalid, .dropped: return .failed
        case .timeout, .stopped, .outcomeUnknown: return .ambiguous
        }
    }

    func finish(_ op: Int, _ status: LinOp.Status) {
        guard history[op].status == .pending else { return }
        history[op].status = status
        if status == .ok { history[op].response = now }
        let c = history[op].client
        clientBusy[c] = false
        note("client \(c) \(history[op].isPut ? "put" : "get") k\(history[op].key)=\(history[op].value) → \(status)")
        count("ops.\(status)")
        queue.push(.client(c), at: now + rng.below(20))
    }
}
