/// One client operation on the key/value register workload.
struct LinOp: Sendable {
    enum Status: String, Sendable { case pending, ok, failed, ambiguous }
    var client: Int
    var key: UInt8
    var isPut: Bool
    /// The value written, or for a get the value read.
    var value: UInt64
    var invoke: UInt64
    /// Response time; `UInt64.max` while unknown (an ambiguous put may take effect any
    /// time after its invocation).
    var response: UInt64 = .max
    var status: Status = .pending
}

/// A WGL-style linearizability checker (Wing & Gong, with Lowe's memoisation) for a set
/// of registers. Registers are independent, so each key is checked alone (linearizability
/// is local, Herlihy & Wing §3.3).
enum LinearizabilityChecker {
    /// Returns nil if the history is linearizable, else the offending key.
    static func check(_ history: [LinOp]) -> UInt8? {
        let relevant = history.filter { $0.status == .ok || ($0.status == .ambiguous && $0.isPut) }
        let keys = Set(relevant.map(\.key))
        for key in keys.sorted() {
            let ops = relevant.filter { $0.key == key }.sorted { $0.invoke < $1.invoke }
            if !checkRegister(ops) { return key }
        }
        return nil
    }

    /// Whether `ops` (sorted by invocation) can be ordered so that every get returns the
    /// latest put before it (or 0), and each operation takes effect between its
    /// invocation and response.
    static func checkRegister(_ ops: [LinOp]) -> Bool {
        var done = [Bool](repeating: false, count: ops.count)
        var words = [UInt64](repeating: 0, count: (ops.count + 63) / 64)
        var memo = Set<[UInt64]>()
        var budget = 2_000_000
        func search(_ state: UInt64, _ remaining: Int) -> Bool {
            if remaining == 0 { return true }
            budget -= 1
            if budget < 0 { return true }  // give up (never seen at these history sizes)
            var minResponse = UInt64.max
            for i in ops.indices where !done[i] { minResponse = min(minResponse, ops[i].response) }
            for i in ops.indices where !done[i] {
                let op = ops[i]
                if op.invoke > minResponse { break }
                if !op.isPut && op.value != state { continue }
                let next = op.isPut ? op.value : state
                done[i] = true
                words[i / 64] |= 1 << UInt64(i % 64)
                if memo.insert(words + [next]).inserted, search(next, remaining - 1) { return true }
                done[i] = false
                words[i / 64] &= ~(1 << UInt64(i % 64))
            }
            return false
        }
        return search(0, ops.count)
    }
}

extension SimCluster {
    func checkLinearizable() {
        for i in history.indices where history[i].status == .pending { history[i].status = .ambiguous }
        if let key = LinearizabilityChecker.check(history) {
            let ops = history.filter { $0.key == key && $0.status != .failed }
            let lines = ops.map {
                "  c\($0.client) \($0.isPut ? "put" : "get") \($0.value) [\($0.invoke), \($0.response == .max ? "∞" : String($0.response))] \($0.status)"
            }
            fail("history of key \(key) is not linearizable:\n" + lines.joined(separator: "\n"))
        }
    }
}
