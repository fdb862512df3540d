import Foundation
import Testing

@testable import Node

/// `ShardedDictionary` is a `[String: Value]` whose growth and copies touch one shard, so
/// a write never pays for the whole table (docs/BENCHMARKS.md, "The third-repetition
/// stall"): it must behave and encode exactly like the dictionary it replaced.
@Suite("Sharded dictionary: a dictionary whose writes are not O(table)")
struct ShardedDictionaryTests {
    @Test func behavesLikeADictionaryUnderRandomInsertsUpdatesAndRemovals() {
        var rng = SplitMix64(seed: 0x5EED)
        var model: [String: Int] = [:]
        var sharded: ShardedDictionary<Int> = [:]
        for step in 0..<20_000 {
            let key = "k\(rng.next() % 3_000)"
            switch rng.next() % 4 {
            case 0: sharded[key] = nil; model[key] = nil
            default: sharded[key] = step; model[key] = step
            }
            #expect(sharded[key] == model[key])
        }
        #expect(sharded.count == model.count && sharded.isEmpty == model.isEmpty)
        #expect(Dictionary(uniqueKeysWithValues: sharded.map { ($0.key, $0.value) }) == model)
        #expect(sharded.values.sorted() == model.values.sorted())
        #expect(sharded.keys.sorted() == model.keys.sorted())
        #expect(sharded.underestimatedCount == model.count)
        for key in model.keys { sharded[key] = nil }
        #expect(sharded.isEmpty && sharded == [:] && Array(sharded).isEmpty)
    }

    @Test func encodesAndDecodesExactlyAsTheDictionaryItReplaced() throws {
        var records: [TunnelRecord] = []
        for i in 0..<500 {
            var r = TunnelRecord(
                id: "t-\(i)", name: "n\"\\/\u{1F600}\(i)", owner: "admin", createdAt: Int64(i),
                expiresAt: Int64(i) * 7, state: .open)
            if i % 3 == 0 { r.close(at: 5, by: "x", reason: .admin) }
            records.append(r)
        }
        var dictionary: [String: TunnelRecord] = [:]
        var sharded: ShardedDictionary<TunnelRecord> = [:]
        for r in records {
            dictionary[r.id] = r
            sharded[r.id] = r
        }
        for value in [[:], dictionary] as [[String: TunnelRecord]] {
            var s: ShardedDictionary<TunnelRecord> = [:]
            for (k, v) in value { s[k] = v }
            #expect(CanonicalJSON.encode(s) == CanonicalJSON.encode(value))
            let foundation = JSONEncoder()
            foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(try foundation.encode(s) == foundation.encode(value))
        }
        let decoded = try #require(CanonicalJSON.decode(ShardedDictionary<TunnelRecord>.self, from: CanonicalJSON.encode(dictionary)))
        #expect(decoded == sharded && decoded.count == 500)
        var other = sharded
        other["t-7"]?.name = "changed"
        #expect(other != sharded)
        other["t-7"] = sharded["t-7"]
        #expect(other == sharded)
    }

    /// The stall's cause, checked without a clock: a `Dictionary` rehashes all its entries
    /// in the insert that crosses its capacity (75–98 ms at 98,304 tunnels, on every node
    /// at once); here an insert rehashes one shard, and a write after a snapshot's copy
    /// copies one shard. Both are bounded by the fullest shard, a small fraction of the
    /// table however large it grows.
    @Test func tunnelCreationsNeverGrowOrCopyMoreThanOneSmallShard() {
        let h = Harness()
        var bound = 0
        let hash = tokenHash("token")
        for i in 0..<8_000 {
            let create = OpPayload.TunnelCreate(
                id: "t-\(i)", name: "n\(i)", durationSeconds: 3600, tokenHash: hash, tokenExpiresAt: t0 + 3_600_000)
            h.run(.tunnelCreate(create))
            if i == 999 { bound = h.state.tunnels.largestShardCount }
        }
        let state = h.state
        #expect(state.tunnels.count == 8_000 && state.tokens.count == 8_000)
        // 256 shards: ~31 entries each on average; the fullest stays a small fraction.
        #expect(state.tunnels.largestShardCount < 8_000 / 64)
        #expect(state.tokens.largestShardCount < 8_000 / 64)
        #expect(bound > 0 && bound < 1_000 / 64 + 20)
    }
}
