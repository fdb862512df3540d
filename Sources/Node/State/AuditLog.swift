import Foundation
import Tunnel

/// One audit record: who did what to which object, from where, and how it ended.
/// Never holds a secret (tokens, passwords, password hashes, key material).
struct AuditRecord: Codable, Equatable, Sendable {
    enum Outcome: String, Codable, CaseIterable, Sendable { case ok, rejected, denied, failed }

    /// 1, 2, 3, … with no gaps (pruning removes a prefix and anchors the chain).
    var seq: UInt64
    /// Unix ms. Invariant: non-decreasing in `seq` (the state's clock never goes back).
    var at: Int64
    var actor: Principal
    var node: String
    var source: String
    /// The command's op type (`tunnel.create`) or an event name (`login`, `session.open`).
    var action: String
    /// What it concerns, `kind/id` (`tunnel/t1`), or "" when nothing in particular.
    var object: String
    var outcome: Outcome
    var detail: String
    /// Lowercase hex of the previous record's hash (32 zero bytes before the first).
    var prevHash: String
    /// Lowercase hex of SHA-256(prevHash bytes ‖ canonical JSON of the record without `hash`).
    var hash: String

    /// The fields covered by the hash, in canonical (sorted-key) JSON.
    struct Body: Encodable {
        var seq: UInt64
        var at: Int64
        var actor: Principal
        var node: String
        var source: String
        var action: String
        var object: String
        var outcome: Outcome
        var detail: String
        var prevHash: String
    }

    /// The hash this record should carry, from its other fields.
    func computedHash() -> String {
        let body = hashedBody()
        let hasher = SHA256()
        hasher.update((try? Hex.decode(prevHash)) ?? Array(prevHash.utf8))
        hasher.update(body.canonicalJSON())
        return Hex.encode(hasher.finalize())
    }

    func hashedBody() -> Body {
        Body(
            seq: seq, at: at, actor: actor, node: node, source: source, action: action, object: object,
            outcome: outcome, detail: detail, prevHash: prevHash)
    }
}

/// The replicated, hash-chained audit log and its queries. A value; queries are pure.
///
/// Invariant: `records[i].seq == anchorSeq + 1 + i`, and record i's `prevHash` is record
/// i-1's `hash` (`anchorHash` for the first).
struct AuditLog: Codable, Equatable, Sendable {
    /// Hex of the 32 zero bytes that precede the first record ever written.
    static let genesisHash = String(repeating: "0", count: 64)
    static let pageSizeDefault = 20
    static let pageSizeMax = 1000

    /// Chunked, so a write after a snapshot's copy of the state copies one chunk, not the
    /// log (see `ChunkedArray`).
    private(set) var records: ChunkedArray<AuditRecord> = []
    /// The seq of the last pruned record (0: nothing pruned).
    private(set) var anchorSeq: UInt64 = 0
    /// The hash of the last pruned record (genesis when nothing was pruned).
    private(set) var anchorHash: String = AuditLog.genesisHash

    var nextSeq: UInt64 { (records.last?.seq ?? anchorSeq) + 1 }
    var lastHash: String { records.last?.hash ?? anchorHash }
    var lastAt: Int64 { records.last?.at ?? 0 }

    /// Appends one record, chaining it to the last, and returns it.
    @discardableResult
    mutating func append(
        at: Int64, actor: Principal, node: String, source: String, action: String, object: String,
        outcome: AuditRecord.Outcome, detail: String
    ) -> AuditRecord {
        var record = AuditRecord(
            seq: nextSeq, at: max(at, lastAt), actor: actor, node: node, source: source, action: action, object: object,
            outcome: outcome, detail: detail, prevHash: lastHash, hash: "")
        record.hash = record.computedHash()
        records.append(record)
        return record
    }

    /// Drops every record with seq ≤ `throughSeq` (after an export), keeping the chain
    /// verifiable from the anchor. Returns how many were dropped.
    mutating func prune(throughSeq: UInt64) -> Int {
        let count = records.prefix { $0.seq <= throughSeq }.count
        guard count > 0 else { return 0 }
        anchorSeq = records[count - 1].seq
        anchorHash = records[count - 1].hash
        records.removeFirst(count)
        return count
    }

    /// The seq of the first record that breaks the chain (edited, reordered, missing or
    /// inserted), or nil when every record links and hashes correctly.
    static func verify(
        _ records: some Sequence<AuditRecord>, anchorHash: String = genesisHash, anchorSeq: UInt64 = 0
    ) -> UInt64? {
        var previousHash = anchorHash
        var expectedSeq = anchorSeq + 1
        for record in records {
            guard record.seq == expectedSeq, record.prevHash == previousHash, record.computedHash() == record.hash
            else {
                return record.seq
            }
            previousHash = record.hash
            expectedSeq += 1
        }
        return nil
    }

    /// This log's own `verify`.
    func verify() -> UInt64? { AuditLog.verify(records, anchorHash: anchorHash, anchorSeq: anchorSeq) }
}

/// One page of an audit query. `nextCursor` is the `after` for the next page, nil at the end.
struct AuditPage: Codable, Equatable, Sendable {
    var records: [AuditRecord]
    var nextCursor: UInt64?
}

extension AuditLog {
    /// Records with `since <= at < until` and `seq > after`, in seq order, at most `limit`
    /// (default 20, clamped to 1...1000). Following `nextCursor` visits every matching
    /// record exactly once, whatever the timestamps (ties included): the cursor is a seq.
    func page(since: Int64? = nil, until: Int64? = nil, after: UInt64? = nil, limit: Int? = nil) -> AuditPage {
        let pageSize = min(max(limit ?? AuditLog.pageSizeDefault, 1), AuditLog.pageSizeMax)
        var index = startIndex(since: since, after: after)
        var out: [AuditRecord] = []
        while index < records.count {
            let record = records[index]
            // `at` is non-decreasing, so nothing at or past `until` can match later.
            if let until, record.at >= until { break }
            if out.count == pageSize { return AuditPage(records: out, nextCursor: out.last?.seq) }
            out.append(record)
            index += 1
        }
        return AuditPage(records: out, nextCursor: nil)
    }

    /// Every page of a query, for streaming exports (each page is a fresh `page` call).
    func pages(since: Int64? = nil, until: Int64? = nil, pageSize: Int = AuditLog.pageSizeMax) -> AuditPages {
        AuditPages(log: self, since: since, until: until, pageSize: pageSize)
    }

    /// First index with seq > after and at >= since (binary searches; `at` is sorted).
    private func startIndex(since: Int64?, after: UInt64?) -> Int {
        var start = 0
        if let after, after > anchorSeq {
            start = Int(clamping: min(after - anchorSeq, UInt64(records.count)))
        }
        if let since {
            var low = start
            var high = records.count
            while low < high {
                let middle = (low + high) / 2
                if records[middle].at < since { low = middle + 1 } else { high = middle }
            }
            start = low
        }
        return start
    }
}

/// The pages of an audit query, in order; ends after the page whose `nextCursor` is nil.
struct AuditPages: Sequence, IteratorProtocol {
    let log: AuditLog
    let since: Int64?
    let until: Int64?
    let pageSize: Int
    private var cursor: UInt64?
    private var done = false

    init(log: AuditLog, since: Int64?, until: Int64?, pageSize: Int) {
        self.log = log
        self.since = since
        self.until = until
        self.pageSize = pageSize
    }

    mutating func next() -> AuditPage? {
        guard !done else { return nil }
        let page = log.page(since: since, until: until, after: cursor, limit: pageSize)
        cursor = page.nextCursor
        done = page.nextCursor == nil
        return page
    }
}
