/// A `[String: Value]` kept as `shardCount` small dictionaries, chosen by the key's hash,
/// for the state's tables that grow by one entry per write (tunnels, connect tokens).
///
/// Why: a Swift `Dictionary` grows by rehashing every entry into a table twice the size,
/// in the one insert that crosses its capacity. At 98,304 tunnels that insert took 75–98 ms
/// on each node (tunnels and tokens cross together), on the Raft loop and on every node at
/// the same log index, so heartbeats stopped for as long — the third repetition's stall in
/// `scripts/bench-cluster` (docs/BENCHMARKS.md, "The third-repetition stall"). Here one
/// insert rehashes at most one shard (1/256 of the entries), and shards cross their
/// thresholds at different totals. The same split bounds the copy a shared value costs: a
/// snapshot's `let copy = state` shares every shard, and the next write on the Raft loop
/// copies only the shard it touches (plus the outer array of references), not the table.
///
/// Semantics are a dictionary's: unique string keys, unordered iteration (nothing may
/// depend on the order: canonical JSON sorts keys, and the state's searches go through
/// `firstByID`). Encodes and decodes exactly as `[String: Value]` does (a keyed container
/// of string keys), so snapshots and results keep their bytes. A value; not thread-safe
/// beyond value semantics.
struct ShardedDictionary<Value> {
    /// Shards per table: at a million entries a shard holds ~4,000 (one rehash ~1 ms).
    static var shardCount: Int { 256 }

    /// Invariant: `shards.count == shardCount` or 0 (an empty table allocates nothing), and
    /// every key lies in shard `shard(of: key)`.
    private var shards: [[String: Value]] = []
    /// Entries over all shards.
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    /// The shard of `key`: low bits of its hash (per-process seed, like `Dictionary`'s; the
    /// shard a key lies in is never part of any output).
    @inline(__always)
    private static func shard(of key: String) -> Int { key.hashValue & (shardCount - 1) }

    subscript(key: String) -> Value? {
        get {
            guard !shards.isEmpty else { return nil }
            return shards[Self.shard(of: key)][key]
        }
        set {
            if shards.isEmpty {
                guard newValue != nil else { return }
                shards = Array(repeating: [:], count: Self.shardCount)
            }
            let s = Self.shard(of: key)
            if let newValue {
                if shards[s].updateValue(newValue, forKey: key) == nil { count += 1 }
            } else if shards[s].removeValue(forKey: key) != nil {
                count -= 1
            }
        }
    }

    /// Every value, in no particular order.
    var values: Values { Values(shards: shards) }

    /// Entries in the fullest shard: what one insert may have to rehash, and one write
    /// after a copy may have to copy.
    var largestShardCount: Int { shards.map(\.count).max() ?? 0 }

    /// Every key, in no particular order.
    var keys: [String] { shards.flatMap(\.keys) }

    /// The values of a `ShardedDictionary`, shard after shard.
    struct Values: Sequence {
        fileprivate let shards: [[String: Value]]

        func makeIterator() -> FlattenSequence<LazyMapSequence<[[String: Value]], Dictionary<String, Value>.Values>>
            .Iterator
        {
            shards.lazy.map(\.values).joined().makeIterator()
        }
    }
}

extension ShardedDictionary: Sequence {
    func makeIterator() -> FlattenSequence<[[String: Value]]>.Iterator { shards.joined().makeIterator() }
    var underestimatedCount: Int { count }
}

extension ShardedDictionary: ExpressibleByDictionaryLiteral {
    init(dictionaryLiteral elements: (String, Value)...) {
        for (key, value) in elements {
            precondition(self[key] == nil, "duplicate key \(key) in a ShardedDictionary literal")
            self[key] = value
        }
    }
}

extension ShardedDictionary: Equatable where Value: Equatable {
    /// Same entries. Shards line up (one hash function per process), so this compares
    /// shard by shard.
    static func == (a: Self, b: Self) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return a.shards == b.shards
    }
}

extension ShardedDictionary: Sendable where Value: Sendable {}

extension ShardedDictionary: Codable where Value: Codable {
    private struct EntryKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// As `[String: Value]` encodes: one keyed container, a key per entry.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: EntryKey.self)
        for (key, value) in self { try container.encode(value, forKey: EntryKey(stringValue: key)) }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EntryKey.self)
        for key in container.allKeys { self[key.stringValue] = try container.decode(Value.self, forKey: key) }
    }
}
