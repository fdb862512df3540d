import Foundation

@testable import Consensus

/// A fresh directory under the system temp dir, removed when the value goes away.
final class TempDir {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "warren-wal-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var wal: String { path + "/wal" }
    var snap: String { path + "/snap" }

    func segment(_ sequence: UInt64) -> String { wal + "/" + FileLogStore.segmentName(sequence) }

    func files(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    func read(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    func write(_ path: String, _ bytes: [UInt8]) {
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
    }
}

/// Entries `range` of `term`, each with `size` bytes of data that depend on the index
/// and term and are never zero (so a zeroed region is always damage).
func makeEntries(_ range: ClosedRange<UInt64>, term: UInt64, size: Int = 32) -> [Entry] {
    range.map { i in
        Entry(
            term: term, index: i, kind: .normal,
            data: (0..<size).map { UInt8(truncatingIfNeeded: Int(i) &* 31 &+ $0 &+ Int(term)) | 1 })
    }
}

/// Small limits so a few entries roll segments.
func smallOptions(segmentBytes: Int = 1024) -> FileLogStore.Options {
    var o = FileLogStore.Options()
    o.segmentBytesMax = segmentBytes
    o.entryDataBytesMax = 4096
    o.unsyncedBytesMax = 64 << 10
    return o
}

/// Production defaults except 1 MiB segments, so preallocated files stay small.
func defaultTestOptions() -> FileLogStore.Options {
    var o = FileLogStore.Options()
    o.segmentBytesMax = 1 << 20
    return o
}

/// Opens and loads a store on `dir`.
func openStore(_ dir: TempDir, _ options: FileLogStore.Options = defaultTestOptions()) throws -> (
    FileLogStore, PersistedState
) {
    let store = try FileLogStore(directory: dir.path, options: options)
    return (store, try store.load())
}

/// The `StorageError` thrown by `body`, or nil if it did not throw one.
func storageError(_ body: () throws -> Void) -> StorageError? {
    do {
        try body()
        return nil
    } catch let e as StorageError {
        return e
    } catch {
        return nil
    }
}

/// Bytes of one framed entry record with `size` data bytes.
func entryRecordBytes(size: Int) -> Int { WALFormat.frameHeaderBytes + WALFormat.entryFixedBytes + size }

/// Offset of the first record after a fresh segment's header and opening records.
let firstRecordOffset =
    WALFormat.segmentHeaderBytes + 2 * WALFormat.frameHeaderBytes + WALFormat.hardStateBodyBytes
    + WALFormat.snapshotMarkerBodyBytes

/// A tiny deterministic PRNG (SplitMix64) so model tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
