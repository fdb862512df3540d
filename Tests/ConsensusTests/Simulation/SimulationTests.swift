import Foundation
import Testing

@testable import Consensus

/// Runs one seed; on a violation, replays it with tracing and returns a readable report.
func simulate(seed: UInt64, bugs: RaftBugs = [], traceLines: Int = 400, stats: inout [String: Int]) -> String? {
    let params = SimParameters(nodes: seed % 2 == 0 ? 3 : 5, bugs: bugs)
    let sim = SimCluster(seed: seed, params: params)
    let result = sim.run()
    for (k, v) in sim.stats { stats[k, default: 0] += v }
    guard let violation = result else { return nil }
    let replay = SimCluster(seed: seed, params: params, tracing: true)
    let again = replay.run()
    let tail = replay.trace.suffix(traceLines).joined(separator: "\n")
    return
        "\(violation)\nreplay: \(again == violation ? "identical" : "DIFFERENT: \(again ?? "none")")\n--- last \(traceLines) events ---\n\(tail)"
}

/// Seeds for the CI run: `WARREN_SIM_SEEDS` (count) and `WARREN_SIM_FIRST` override.
func simulationSeeds(default count: UInt64) -> [UInt64] {
    let env = ProcessInfo.processInfo.environment
    let n = env["WARREN_SIM_SEEDS"].flatMap { UInt64($0) } ?? count
    let first = env["WARREN_SIM_FIRST"].flatMap { UInt64($0) } ?? 1
    return Array(first..<(first + n))
}

@Suite struct Simulation {
    @Test(arguments: [0, 1] as [UInt64])
    func clusterKeepsEveryInvariantAcrossSeeds(shard: UInt64) {
        let seeds = simulationSeeds(default: 500).filter { $0 % 2 == shard }
        var stats: [String: Int] = [:]
        for seed in seeds {
            if let report = simulate(seed: seed, stats: &stats) {
                Issue.record(Comment(rawValue: report))
                return
            }
        }
        print(
            "simulation shard \(shard): \(seeds.count) seeds, "
                + stats.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        // The runs must exercise what they claim to (a simulation that never crashes or
        // elects proves nothing).
        let n = seeds.count
        #expect(stats["elections", default: 0] >= n)
        #expect(stats["crashes", default: 0] >= n / 2)
        #expect(stats["ops.ok", default: 0] >= 10 * n)
        #expect(stats["transfers", default: 0] >= n / 4)
        #expect(stats["adds", default: 0] >= n / 4)
        #expect(stats["snapshotsInstalled", default: 0] >= n / 10)
    }

    @Test func failingSeedReplaysIdentically() {
        let a = SimCluster(seed: 42, params: SimParameters(nodes: 5), tracing: true)
        let b = SimCluster(seed: 42, params: SimParameters(nodes: 5), tracing: true)
        _ = a.run()
        _ = b.run()
        #expect(a.trace == b.trace)
        #expect(a.trace.count > 100)
    }
}

/// `WARREN_SIM_TRACE=<seed>` prints that seed's full trace (the replay of a failure).
@Test func seedFromEnvironmentPrintsItsTrace() {
    guard let seed = ProcessInfo.processInfo.environment["WARREN_SIM_TRACE"].flatMap({ UInt64($0) }) else { return }
    let bugs = RaftBugs(rawValue: ProcessInfo.processInfo.environment["WARREN_SIM_BUGS"].flatMap { UInt32($0) } ?? 0)
    let sim = SimCluster(seed: seed, params: SimParameters(nodes: seed % 2 == 0 ? 3 : 5, bugs: bugs), tracing: true)
    let result = sim.run()
    print(sim.trace.joined(separator: "\n"))
    print("result: \(result ?? "no violation")")
}
