/// The core's in-memory copy of the log after the latest snapshot, with the indexes that
/// track what storage and the application have seen.
///
/// Invariants: `snapshotIndex` ≤ `applied` ≤ `committed` ≤ `lastIndex`;
/// `stableIndex` ≤ `lastIndex` (entries above it are not yet known to be persisted);
/// `unstableFrom` − 1 ≤ `lastIndex` (entries from it on were never handed out in a Ready);
/// `entries[i].index` = `snapshotIndex` + 1 + i.
struct RaftLog: Sendable {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    private(set) var entries: [Entry]
    var committed: UInt64
    /// Last index handed to the application (in a Ready that was advanced).
    var applied: UInt64
    /// Last index persisted by storage.
    var stableIndex: UInt64
    /// First index not yet handed to storage in a Ready.
    var unstableFrom: UInt64

    init(snapshot: SnapshotMetadata, entries: [Entry], committed: UInt64) {
        snapshotIndex = snapshot.index
        snapshotTerm = snapshot.term
        self.entries = entries
        let last = snapshot.index + UInt64(entries.count)
        self.committed = min(max(committed, snapshot.index), last)
        applied = snapshot.index
        stableIndex = last
        unstableFrom = last + 1
    }

    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? snapshotTerm }

    /// Term of the entry at `index`; 0 for index 0, nil when compacted away or absent.
    func term(_ index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        if index < snapshotIndex || index > lastIndex { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { self.term(index) == term }

    func entry(_ index: UInt64) -> Entry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    /// Entries in [from, to], at most `maxCount` and about `maxBytes` (at least one).
    func slice(from: UInt64, to: UInt64, maxCount: Int, maxBytes: Int) -> [Entry] {
        guard from > snapshotIndex, from <= to, to <= lastIndex else { return [] }
        var out: [Entry] = []
        var bytes = 0
        var i = from
        while i <= to && out.count < maxCount {
            let e = entries[Int(i - snapshotIndex - 1)]
            bytes += e.data.count
            if !out.isEmpty && bytes > maxBytes { break }
            out.append(e)
            i += 1
        }
        return out
    }

    /// Whether a candidate with this last entry is at least as up to date as us (§5.4.1).
    func isUpToDate(lastIndex candidateIndex: UInt64, lastTerm candidateTerm: UInt64) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Appends `newEntries` (which must start at or below lastIndex + 1), dropping any
    /// conflicting suffix. Precondition: nothing committed is dropped.
    mutating func append(_ newEntries: [Entry]) {
        guard let first = newEntries.first else { return }
        precondition(first.index > snapshotIndex && first.index <= lastIndex + 1, "gap in log append")
        if first.index <= lastIndex {
            precondition(first.index > committed, "truncating committed entries")
            entries.removeLast(Int(lastIndex - first.index + 1))
            stableIndex = min(stableIndex, first.index - 1)
        }
        unstableFrom = min(unstableFrom, first.index)
        entries.append(contentsOf: newEntries)
    }

    /// Drops every entry after `index` (only the `truncateCommitted` bug switch does this
    /// without a conflict; it may drop entries this member acknowledged).
    mutating func truncate(after index: UInt64) {
        guard index < lastIndex, index >= snapshotIndex else { return }
        entries.removeLast(Int(lastIndex - index))
        stableIndex = min(stableIndex, index)
        unstableFrom = min(unstableFrom, index + 1)
        committed = min(committed, index)
        applied = min(applied, index)
    }

    /// The first index in `newEntries` whose term differs from ours, or nil if all match.
    func firstConflict(_ newEntries: [Entry]) -> UInt64? {
        for e in newEntries where !matchTerm(e.index, e.term) {
            return e.index
        }
        return nil
    }

    /// The largest index ≤ `index` whose term is ≤ `term` (fast backtracking, thesis §5.3).
    func conflictHint(index: UInt64, term: UInt64) -> UInt64 {
        var i = min(index, lastIndex)
        while i > snapshotIndex, let t = self.term(i), t > term { i -= 1 }
        return i
    }

    /// Drops entries up to `index` (≤ applied), remembering its term.
    mutating func compact(to index: UInt64) {
        guard index > snapshotIndex else { return }
        precondition(index <= applied, "compacting past applied")
        let t = term(index)!
        entries.removeFirst(Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = t
    }

    /// Replaces the whole log by a snapshot (a follower that installs one, §7).
    mutating func restore(_ meta: SnapshotMetadata) {
        entries = []
        snapshotIndex = meta.index
        snapshotTerm = meta.term
        committed = meta.index
        applied = meta.index
        stableIndex = meta.index
        unstableFrom = meta.index + 1
    }

    /// Entries to persist in the next Ready.
    var unstableEntries: [Entry] {
        guard unstableFrom <= lastIndex else { return [] }
        return Array(entries[Int(unstableFrom - snapshotIndex - 1)...])
    }

    /// Committed entries not yet applied, at most `max`.
    func nextCommitted(max: Int) -> [Entry] {
        guard committed > applied else { return [] }
        let from = applied + 1
        let to = min(committed, applied + UInt64(max))
        return Array(entries[Int(from - snapshotIndex - 1)...Int(to - snapshotIndex - 1)])
    }
}
