/// Rebuilds the log and hard state from WAL records, relative to the newest snapshot.
/// Pure: records in, state or a reason out.
///
/// Entries at or below the snapshot index are skipped (the snapshot replaces them) but
/// still truncate what follows them, exactly as when they were written. An entry at
/// index `i` above the snapshot replaces the suffix from `i` (conflict truncation) and
/// must not leave a gap. Invariant: `entries` are contiguous from `snapshot.index + 1`
/// with non-decreasing terms.
struct WALReplay {
    let snapshot: SnapshotMetadata
    private(set) var entries: [Entry] = []
    private(set) var hardState = HardState()
    /// Term of the live entry at `snapshot.index`, nil when none was seen or it was
    /// truncated away. Used when the snapshot's marker record is missing (a crash after
    /// the snapshot's rename, before the marker reached the WAL).
    private(set) var termAtSnapshotIndex: UInt64?
    /// Whether the WAL holds the marker of `snapshot` itself.
    private(set) var sawSnapshotMarker = false

    init(snapshot: SnapshotMetadata) { self.snapshot = snapshot }

    var lastIndex: UInt64 { snapshot.index + UInt64(entries.count) }

    struct Impossible: Error { var reason: String }

    mutating func apply(_ record: WALFormat.Record) throws(Impossible) {
        switch record {
        case .hardState(let s):
            hardState = s
        case .entry(let e):
            try applyEntry(e)
        case .snapshotMarker(let index, let term, let reset):
            guard index <= snapshot.index else {
                throw Impossible(
                    reason: "the WAL records a snapshot at index \(index) (term \(term)) but the newest "
                        + "snapshot file covers only \(snapshot.index): a snapshot file is missing")
            }
            if index == snapshot.index { sawSnapshotMarker = true }
            if reset {
                entries.removeAll()  // everything after `index` ≤ snapshot.index
                if index < snapshot.index { termAtSnapshotIndex = nil }
            }
        }
    }

    private mutating func applyEntry(_ e: Entry) throws(Impossible) {
        if e.index <= snapshot.index {
            entries.removeAll()
            termAtSnapshotIndex = e.index == snapshot.index ? e.term : nil
            return
        }
        let position = Int(e.index - snapshot.index - 1)
        guard position <= entries.count else {
            throw Impossible(reason: "entry \(e.index) leaves a gap after the last entry \(lastIndex)")
        }
        entries.removeSubrange(position...)
        if let prev = entries.last, prev.term > e.term {
            throw Impossible(
                reason: "entry \(e.index) has term \(e.term), lower than term \(prev.term) of entry \(prev.index)")
        }
        entries.append(e)
    }

    /// Applies Raft §7 when the snapshot's marker never reached the WAL: keep the
    /// entries after the snapshot only if the log held the snapshot's last entry with
    /// the snapshot's term. Returns whether the log was reset, or nil when the marker
    /// was present (nothing to do).
    mutating func finishInterruptedSnapshot() -> Bool? {
        guard snapshot.index > 0, !sawSnapshotMarker else { return nil }
        let keep = termAtSnapshotIndex == snapshot.term
        if !keep { entries.removeAll() }
        return !keep
    }
}
