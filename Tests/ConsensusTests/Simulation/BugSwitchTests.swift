import Testing

@testable import Consensus

/// The simulator proves it can find bugs: each classic Raft bug, switched on alone, must
/// be caught within 1,000 seeds (issue 3).
@Suite struct BugSwitches {
    static let bugs = RaftBugs.all.map(\.0)

    @Test(arguments: bugs)
    func simulatorCatchesReintroducedBug(_ name: String) {
        let bug = RaftBugs.all.first { $0.0 == name }!.1
        var stats: [String: Int] = [:]
        for seed in UInt64(1)...1_000 {
            if let report = simulate(seed: seed, bugs: bug, traceLines: 0, stats: &stats) {
                let firstLine = report.split(separator: "\n").first ?? ""
                print("bug \(name): caught after \(seed) seeds: \(firstLine)")
                return
            }
        }
        Issue.record("bug \(name) survived 1,000 seeds")
    }
}
