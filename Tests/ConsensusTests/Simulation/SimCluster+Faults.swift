@testable import Consensus

/// Fault injection during the chaos phase, and the heal phase that must converge.
extension SimCluster {
    func chaos() {
        guard !healing else { return }
        queue.push(.chaos, at: now + 20 + rng.below(180))
        let ids = order
        let pick = { (rng: inout RaftRandom) in ids[Int(rng.below(UInt64(ids.count)))] }
        switch rng.below(17) {
        case 0:  // symmetric partition into two random groups
            let side = Set(ids.filter { _ in rng.below(2) == 0 })
            faults.cut = []
            for a in ids { for b in ids where side.contains(a) != side.contains(b) { faults.cut.insert([a, b]) } }
            note("PARTITION \(side.sorted()) | rest")
        case 1, 2:  // cut one directed link (asymmetric); repeated, this cuts links one by one
            let a = pick(&rng)
            let b = pick(&rng)
            if a != b {
                faults.cut.insert([a, b])
                note("CUT n\(a)→n\(b)")
            }
        case 3, 4:  // restore one cut link, in random order
            if let link = faults.cut.sorted(by: { $0.lexicographicallyPrecedes($1) }).randomElement(using: &rng) {
                faults.cut.remove(link)
                note("RESTORE n\(link[0])→n\(link[1])")
            }
        case 5:
            faults.cut = []
            note("HEAL NETWORK")
        case 6:
            let n = nodes[pick(&rng)]!
            if n.driver != nil {
                crash(n)
                checkNode(n)
            } else {
                start(n)
            }
        case 7:  // crash in the middle of the next Ready's write
            let n = nodes[pick(&rng)]!
            n.store.failNextSync = true
            note("ARM torn write on n\(n.id)")
        case 8:
            let n = nodes[pick(&rng)]!
            if n.driver == nil { start(n) }
        case 9:
            // A process stall (GC, swap, SIGSTOP) of 50–1000 ms.
            let n = nodes[pick(&rng)]!
            if !n.paused {
                n.paused = true
                note("PAUSE n\(n.id)")
                queue.push(.resume(n.id), at: now + 50 + rng.below(950))
            }
        case 10:
            transferLeadership()
        case 11:
            changeMembership()
        case 12:
            let n = nodes[pick(&rng)]!
            n.rebootArmed = true
            note("ARM reboot after the next hard-state write on n\(n.id)")
        default:
            break  // quiet: let the cluster make progress
        }
    }

    func transferLeadership() {
        guard let l = currentLeader, let d = l.driver else { return }
        let voters = d.raft.conf.voters.filter { $0 != l.id }.sorted()
        guard let target = voters.randomElement(using: &rng) else { return }
        note("TRANSFER n\(l.id) → n\(target)")
        count("transfers")
        d.transferLeadership(to: target, timeoutTicks: 50) { _ in }
        afterInput(l)
    }

    func changeMembership() {
        guard let l = currentLeader, let d = l.driver else { return }
        let conf = d.raft.conf
        let members = conf.voters.count + conf.learners.count
        if rng.below(2) == 0 && members <= params.nodes && nextID < 12 {
            let id = nextID
            nextID += 1
            addNode(id, initialVoters: [])
            note("ADD n\(id) (learner, then promote)")
            count("adds")
            d.addVoter(id, timeoutTicks: 400) { _ in }
        } else if conf.voters.count > 3 {
            guard let victim = conf.voters.sorted().randomElement(using: &rng) else { return }
            note("REMOVE n\(victim)")
            count("removes")
            d.changeMembership(.remove(victim), timeoutTicks: 100) { _ in }
        }
        afterInput(l)
    }

    /// Heal: reconnect, restart, resume; then wait (≤ healLimitMs) for one leader and
    /// every member applying the same state.
    func healStep() {
        if !healing {
            healing = true
            healStart = now
            faults = SimNetworkFaults(delayMinMs: 1, delayMaxMs: 5)
            note("=== HEAL ===")
            for id in order {
                let n = nodes[id]!
                n.paused = false
                n.store.failNextSync = false
                n.rebootArmed = false
                if n.driver == nil { start(n) }
            }
        }
        if isConverged() {
            converged = true
            stats["healMs"] = Int(now - healStart)
            return
        }
        if now - healStart > params.healLimitMs {
            fail("no convergence within \(params.healLimitMs) ms of healing: " + summary())
            return
        }
        queue.push(.heal, at: now + params.tickMs)
    }

    func isConverged() -> Bool {
        guard let l = currentLeader, let ld = l.driver else { return false }
        guard history.allSatisfy({ $0.status != .pending }) else { return false }
        let r = ld.raft
        guard r.log.committed == r.log.lastIndex, r.log.term(r.log.committed) == r.term else { return false }
        let members = r.conf.voters.union(r.conf.learners)
        for id in members {
            guard let n = nodes[id], let d = n.driver else { return false }
            guard d.raft.leader == l.id, d.raft.term == r.term, d.appliedIndex == r.log.committed,
                n.kv.kv == l.kv.kv
            else { return false }
        }
        for n in nodes.values where n.id != l.id {
            if let d = n.driver, d.raft.role == .leader && d.raft.term >= r.term { return false }
        }
        return true
    }

    func summary() -> String {
        let pending = history.indices.filter { history[$0].status == .pending }
        return "pending ops \(pending.map { "\(history[$0])" }); "
            + order.map { id in
                let n = nodes[id]!
                guard let d = n.driver else { return "n\(id):down" }
                let r = d.raft
                return
                    "n\(id):\(r.role) t\(r.term) lead \(r.leader) commit \(r.log.committed) applied \(d.appliedIndex) last \(r.log.lastIndex) voters \(r.conf.voters.sorted()) learners \(r.conf.learners.sorted())"
            }.joined(separator: "; ")
    }
}
