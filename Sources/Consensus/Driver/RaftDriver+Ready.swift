/// The Ready loop: persist, sync, send, apply, advance (etcd-raft's Ready contract;
/// Raft §5.1 figure 2 "respond after persisting").
extension RaftDriver {
    /// Drains the core's Ready batches. Stops the driver on any storage error.
    func process() {
        var rounds = 0
        while stoppedReason == nil && raft.hasReady && rounds < 1_000 {
            rounds += 1
            let ready = raft.ready()
            // Raft thesis §10.2.1: a leader's appends may go out while its own disk write
            // runs. Safe because the core counts the leader's own copy towards a quorum
            // only in `advance`, after the sync; votes, responses and everything a
            // follower says still wait for the sync.
            var later = ready.messages
            if raft.role == .leader && !ready.messages.isEmpty {
                let early = ready.messages.filter { Self.mayPrecedeSync($0.kind) }
                if !early.isEmpty {
                    later = ready.messages.filter { !Self.mayPrecedeSync($0.kind) }
                    transport.send(early)
                }
            }
            do {
                try persist(ready)
            } catch {
                stop(reason: "storage: \(error)")
                return
            }
            if !later.isEmpty { transport.send(later) }
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
        // A hard state that only moves the commit index is buffered, not synced: losing
        // it in a crash only makes this member re-learn the commit index from the
        // leader, while term and vote must be durable before any message depends on
        // them (etcd-raft's MustSync makes the same cut). It reaches the disk with the
        // next sync.
        let termOrVoteChanged = ready.hardState.map { ($0.term, $0.vote) != syncedTermVote } ?? false
        if !ready.entries.isEmpty || termOrVoteChanged || ready.snapshot != nil {
            try store.sync()
            if let hs = ready.hardState { syncedTermVote = (hs.term, hs.vote) }
        }
    }

    /// Leader messages that depend on nothing unsynced: appends and heartbeats carry
    /// entries already in the leader's memory and a term it persisted when elected;
    /// snapshots come from the state machine.
    static func mayPrecedeSync(_ kind: Message.Kind) -> Bool {
        kind == .append || kind == .heartbeat || kind == .installSnapshot || kind == .timeoutNow
    }

    func apply(_ ready: Ready) {
        if let snap = ready.snapshot {
            appliedIndex = snap.metadata.index
            lastSnapshotBytes = snap.data.count
            appliedBytesSinceSnapshot = 0
            // Proposals the snapshot covers have an unknown fate here.
            for index in proposals.keys.sorted() where index <= appliedIndex {
                proposals.removeValue(forKey: index)!.completion(.failure(.outcomeUnknown))
            }
        }
        for e in ready.committedEntries {
            let result: [UInt8]
            if e.kind == .normal {
                result = stateMachine.apply(e, resultWanted: proposals[e.index] != nil)
            } else {
                stateMachine.applyMeta(e)
                result = []
            }
            appliedIndex = e.index
            appliedBytesSinceSnapshot += e.data.count
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

    /// Every `snapshotEveryEntries` applied entries (and, with `snapshotLogRatio`, once
    /// the log applied since the last snapshot outweighs it): snapshot the state machine
    /// and compact the log. The state machine may produce the bytes in the background (a
    /// large state would otherwise stall the Raft thread past an election timeout); the
    /// point is fixed when it starts, and the log is compacted to it when the bytes arrive.
    /// With a store that has a `snapshotFileWriter`, the file's write and fsync happen in
    /// that background too (tens to hundreds of ms for a large state), and only the WAL
    /// marker and the compaction run here (`finishSnapshot`).
    func maybeCompact() {
        let snapIndex = raft.status.snapshotIndex
        guard !snapshotInProgress, appliedIndex >= snapIndex + options.snapshotEveryEntries,
            Double(appliedBytesSinceSnapshot) >= options.snapshotLogRatio * Double(lastSnapshotBytes),
            appliedIndex == raft.log.applied, let point = raft.snapshotPoint
        else { return }
        snapshotInProgress = true
        appliedBytesSinceSnapshot = 0
        guard let writer = store.snapshotFileWriter else {
            stateMachine.snapshotInBackground { [weak self] data in
                self?.finishSnapshot(at: point, data: data, file: nil)
            }
            return
        }
        stateMachine.snapshotInBackground(thenWrite: { data in Result { try writer.write(point, data: data) } }) {
            [weak self] data, written in
            self?.finishSnapshot(at: point, data: data, file: written)
        }
    }

    /// A background snapshot's bytes are back (and, with `file`, written and synced):
    /// compact the core, then record the snapshot in the store. Invariants: the core
    /// compacts only to a point it applied, and the store drops WAL segments only after
    /// the snapshot file that replaces them is durable — so a crash at any moment recovers
    /// either the older snapshot plus the whole log, or this one plus the log after it.
    /// If a newer snapshot arrived meanwhile (installed from the leader), the core refuses
    /// the older point and the file stays an orphan the store's pruning removes.
    func finishSnapshot(at point: SnapshotMetadata, data: [UInt8], file: Result<WrittenSnapshot, any Error>?) {
        snapshotInProgress = false
        lastSnapshotBytes = data.count
        guard stoppedReason == nil else { return }
        if case .failure(let error) = file { return stop(reason: "storage: \(error)") }
        guard raft.compact(to: point, data: data) else { return }
        do {
            if case .success(let written) = file {
                try store.installWrittenSnapshot(written)
            } else {
                try store.saveSnapshot(point, data: data)
            }
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
