/// The Ready loop: persist, sync, send, apply, advance (etcd-raft's Ready contract;
/// Raft §5.1 figure 2 "respond after persisting").
extension RaftDriver {
    /// Drains the core's Ready batches. Stops the driver on any storage error.
    func process() {
        var rounds = 0
        while stoppedReason == nil && raft.hasReady && rounds < 1_000 {
            rounds += 1
            let ready = raft.ready()
            do {
                try persist(ready)
            } catch {
                stop(reason: "storage: \(error)")
                return
            }
            if !ready.messages.isEmpty { transport.send(ready.messages) }
            apply(ready)
            raft.advance(ready)
        }
        afterReady()
    }

    func persist(_ ready: Ready) throws {
        // Snapshot first, then entries, then the hard state: a crash keeps a prefix of
        // these writes, and a surviving commit index must name entries that survived.
        if let snap = ready.snapshot {
            try store.saveSnapshot(snap.metadata, data: snap.data)
            try stateMachine.restore(snap.data, metadata: snap.metadata)
        }
        if !ready.entries.isEmpty { try store.append(ready.entries) }
        if let hs = ready.hardState { try store.setHardState(hs) }
        if !ready.entries.isEmpty || ready.hardState != nil || ready.snapshot != nil { try store.sync() }
    }

    func apply(_ ready: Ready) {
        if let snap = ready.snapshot {
            appliedIndex = snap.metadata.index
            // Proposals the snapshot covers have an unknown fate here.
            for index in proposals.keys.sorted() where index <= appliedIndex {
                proposals.removeValue(forKey: index)!.completion(.failure(.outcomeUnknown))
            }
        }
        for e in ready.committedEntries {
            let result: [UInt8]
            if e.kind == .normal {
                result = stateMachine.apply(e)
            } else {
                stateMachine.applyMeta(e)
                result = []
            }
            appliedIndex = e.index
            if let p = proposals.removeValue(forKey: e.index) {
                p.completion(p.term == e.term ? .success(result) : .failure(.dropped))
            }
        }
        for rs in ready.readStates {
            reads[rs.context]?.index = rs.index
        }
    }

    /// Serves confirmed reads, fails reads of a lost leadership, completes transfers,
    /// compacts the log.
    func afterReady() {
        guard stoppedReason == nil else { return }
        // Sorted: completions run in a deterministic order (the simulation replays exactly).
        for ctx in reads.keys.sorted() {
            let r = reads[ctx]!
            if let index = r.index, index <= appliedIndex {
                reads[ctx] = nil
                r.completion(.success(()))
            } else if r.index == nil && raft.role != .leader {
                reads[ctx] = nil
                r.completion(.failure(.notLeader(hint: raft.leader)))
            }
        }
        if !transfers.isEmpty && raft.leader != 0 {
            let done = transfers.filter { $0.target == raft.leader }
            transfers.removeAll { $0.target == raft.leader }
            for t in done { t.completion(.success(())) }
        }
        maybeCompact()
    }

    func maybeCompact() {
        let snapIndex = raft.status.snapshotIndex
        guard appliedIndex >= snapIndex + options.snapshotEveryEntries, appliedIndex == raft.log.applied else { return }
        let data = stateMachine.snapshot()
        guard let meta = raft.compact(data: data) else { return }
        do {
            try store.saveSnapshot(meta, data: data)
        } catch {
            stop(reason: "storage: \(error)")
        }
    }

    func expireRequests() {
        for index in proposals.keys.sorted() where proposals[index]!.deadline <= now {
            proposals.removeValue(forKey: index)!.completion(.failure(.timeout))
        }
        for ctx in reads.keys.sorted() where reads[ctx]!.deadline <= now {
            reads.removeValue(forKey: ctx)!.completion(.failure(.timeout))
        }
        let expired = transfers.filter { $0.deadline <= now }
        transfers.removeAll { $0.deadline <= now }
        for t in expired { t.completion(.failure(.timeout)) }
    }

    /// Promotes learners added by `addVoter` once they have caught up (the core refuses
    /// the promotion until then).
    func retryPromotions() {
        guard !promotions.isEmpty else { return }
        let current = promotions
        promotions = []
        for p in current {
            if p.deadline <= now {
                p.completion(.failure(.timeout))
                continue
            }
            switch raft.proposeConfChange(.promote(p.id)) {
            case .success(let at):
                proposals[at.index]?.completion(.failure(.outcomeUnknown))
                proposals[at.index] = PendingProposal(term: at.term, deadline: p.deadline, completion: p.completion)
                process()
            case .failure(.notLeader(let hint)):
                p.completion(.failure(.notLeader(hint: hint)))
            case .failure:
                promotions.append(p)  // not caught up yet, or another change pending: retry next tick
            }
        }
    }
}
