import Foundation
import Testing

@testable import Node

/// `ChunkedArray` holds the audit log so that a write after a snapshot's copy of the state
/// copies one chunk, not every record (docs/BENCHMARKS.md, "The third-repetition stall"):
/// it must behave and encode exactly like the array it replaced.
@Suite("Chunked array: an array whose appends after a copy are not O(array)")
struct ChunkedArrayTests {
    @Test func behavesLikeAnArrayUnderAppendsWritesAndRemovals() {
        var rng = SplitMix64(seed: 0xC4A)
        var model: [Int] = []
        var chunked: ChunkedArray<Int> = []
        for step in 0..<30_000 {
            switch rng.next() % 100 {
            case 0 where !model.isEmpty:
                let k = Int(rng.next() % UInt64(model.count + 1))
                model.removeFirst(k)
                chunked.removeFirst(k)
            case 1...10 where !model.isEmpty:
                let i = Int(rng.next() % UInt64(model.count))
                model[i] = -step
                chunked[i] = -step
            default:
                model.append(step)
                chunked.append(step)
            }
        }
        #expect(Array(chunked) == model && chunked.count == model.count)
        #expect(chunked.last == model.last && chunked.first == model.first)
        #expect(Array(chunked.reversed()) == Array(model.reversed()))
        #expect(ChunkedArray(model) == chunked && chunked.largestChunkCount <= ChunkedArray<Int>.chunkCount)
        let big = ChunkedArray(0..<10_000)
        #expect(big[4095] == 4095 && big[4096] == 4096 && big[9_999] == 9_999)
    }

    @Test func encodesAndDecodesExactlyAsTheArrayItReplaced() throws {
        var log = AuditLog()
        for i in 0..<5_000 {
            log.append(
                at: Int64(i), actor: admin, node: "n1", source: "10.0.0.1:\(i)", action: "tunnel.create",
                object: "tunnel/t\(i)", outcome: .ok, detail: "name=\"x\"/\(i)")
        }
        let array = Array(log.records)
        #expect(CanonicalJSON.encode(log.records) == CanonicalJSON.encode(array))
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try foundation.encode(log.records) == foundation.encode(array))
        #expect(CanonicalJSON.encode(ChunkedArray<AuditRecord>()) == CanonicalJSON.encode([AuditRecord]()))
        let decoded = try #require(CanonicalJSON.decode(AuditLog.self, from: CanonicalJSON.encode(log)))
        #expect(decoded == log && decoded.verify() == nil)
    }

    /// The snapshot stall's second part, checked without a clock: after `let copy =
    /// state`, the next audit append on the Raft loop copies what it shares with the copy.
    /// An `Array` shared all its records (53 ms at 37,000, ~590 ms at 139,000 on a loaded
    /// machine); chunks bound that to one chunk however long the log grows.
    @Test func auditRecordsLiveInChunksABoundedFractionOfTheLog() {
        let h = Harness()
        let hash = tokenHash("token")
        for i in 0..<9_000 {
            let create = OpPayload.TunnelCreate(
                id: "t-\(i)", name: "n\(i)", durationSeconds: 3600, tokenHash: hash, tokenExpiresAt: t0 + 3_600_000)
            h.run(.tunnelCreate(create))
        }
        let copy = h.state  // what a snapshot takes
        h.run(.tunnelClose(.init(id: "t-1", reason: .admin)))
        #expect(h.state.audit.records.count == copy.audit.records.count + 1)
        #expect(h.state.audit.records.largestChunkCount <= ChunkedArray<AuditRecord>.chunkCount)
        #expect(h.state.audit.records.count > 2 * ChunkedArray<AuditRecord>.chunkCount)
        #expect(copy.audit.verify() == nil && h.state.audit.verify() == nil)
    }
}
