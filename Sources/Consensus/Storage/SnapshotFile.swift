import Glibc

/// Snapshot files: `snap/<index, 20 digits>.snap`, written as `<name>.tmp`, fsynced,
/// renamed, and the directory fsynced, so a crash leaves either the previous set of
/// snapshots or the new complete file — never a partial file under a final name.
///
/// Layout (little-endian; byte by byte in `docs/PROTOCOL.md`):
///
///     "WARRENSN" | u8 version | 7 × u8 zero | u64 index | u64 term | u32 voters
///     | u32 learners | u64 dataLength | voters × u64 | learners × u64 | data
///     | u32 crc32c(all preceding bytes)
///
/// Threading: stateless; called from the store's thread.
enum SnapshotFile {
    static let magic: [UInt8] = Array("WARRENSN".utf8)
    static let version: UInt8 = 1
    static let fixedHeaderBytes = 48
    /// Bound on voters and on learners in one snapshot's configuration.
    static let membersMax = 4096

    static func name(index: UInt64) -> String { pad20(index) + ".snap" }

    /// The index encoded in a final snapshot name, or nil for any other name.
    static func index(fromName name: String) -> UInt64? {
        guard name.hasSuffix(".snap"), name.utf8.count == 25 else { return nil }
        return UInt64(name.prefix(20))
    }

    static func encodeHeader(_ m: SnapshotMetadata, dataBytes: Int) -> [UInt8] {
        var b = magic
        b.append(version)
        b.append(contentsOf: [UInt8](repeating: 0, count: 7))
        b.appendLE(m.index)
        b.appendLE(m.term)
        b.appendLE(UInt32(m.conf.voters.count))
        b.appendLE(UInt32(m.conf.learners.count))
        b.appendLE(UInt64(dataBytes))
        for v in m.conf.voters.sorted() { b.appendLE(v) }
        for l in m.conf.learners.sorted() { b.appendLE(l) }
        return b
    }

    /// Bytes of snapshot data written between two `fdatasync`s of the file (see `write`).
    static let syncPieceBytes = 8 << 20

    /// Writes the snapshot durably under its final name in `directory` and returns
    /// that path. `stopBeforeRename` is a test hook: it leaves the synced `.tmp` file
    /// as a crash between write and rename would.
    static func write(
        _ m: SnapshotMetadata, data: [UInt8], in directory: String, stopBeforeRename: Bool = false
    ) throws -> String {
        precondition(
            m.conf.voters.count <= membersMax && m.conf.learners.count <= membersMax, "configuration too large")
        let final = directory + "/" + name(index: m.index)
        let temp = final + ".tmp"
        let header = encodeHeader(m, dataBytes: data.count)
        let crc = CRC32C.checksum(data, seed: CRC32C.checksum(header))
        var trailer: [UInt8] = []
        trailer.appendLE(crc)
        let fd = try FileIO.open(temp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try FileIO.pwriteAll(fd, header, at: 0, path: temp)
            // In pieces, each synced before the next is written: the WAL shares the disk
            // (and ext4's journal), and its `fdatasync` — on every write's path — waited
            // behind a whole snapshot's dirty pages (50–185 ms at 95 MB with three nodes
            // writing theirs at once); now it waits behind one piece at most.
            try data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + syncPieceBytes)
                    let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
                    try FileIO.pwriteAll(fd, piece, at: header.count + offset, path: temp)
                    if end < bytes.count { try FileIO.fdatasync(fd, path: temp) }
                    offset = end
                }
            }
            try FileIO.pwriteAll(fd, trailer, at: header.count + data.count, path: temp)
            try FileIO.fdatasync(fd, path: temp)
        } catch {
            FileIO.close(fd)
            throw error
        }
        FileIO.close(fd)
        if stopBeforeRename { return temp }
        try FileIO.rename(temp, final)
        try FileIO.fsyncDirectory(directory)
        return final
    }

    /// Reads and verifies a snapshot file.
    static func read(_ path: String, bytesMax: Int) throws -> (metadata: SnapshotMetadata, data: [UInt8]) {
        let b = try FileIO.readFile(path, bytesMax: bytesMax)
        return try decode(b, path: path)
    }

    /// Decodes a whole snapshot file; any byte string gives a snapshot or an error.
    static func decode(_ b: [UInt8], path: String) throws -> (metadata: SnapshotMetadata, data: [UInt8]) {
        func corrupt(_ why: String, at offset: Int? = nil) -> StorageError {
            StorageError(
                .corruptSnapshot, path: path, offset: offset.map { UInt64($0) }, reason: why,
                remedy: "Move the damaged file aside; the node then starts from the previous snapshot "
                    + "if its WAL still covers the gap, otherwise wipe the data directory and let the "
                    + "leader send a fresh snapshot")
        }
        guard b.count >= fixedHeaderBytes + 4 else { throw corrupt("file of \(b.count) bytes is too short") }
        guard Array(b[0..<8]) == magic else { throw corrupt("magic is not \"WARRENSN\"", at: 0) }
        guard CRC32C.checksum(b, range: 0..<(b.count - 4)) == b.readLE(UInt32.self, at: b.count - 4) else {
            throw corrupt("checksum mismatch", at: b.count - 4)
        }
        guard b[8] == version else { throw corrupt("unsupported version \(b[8])", at: 8) }
        let voters = Int(b.readLE(UInt32.self, at: 32))
        let learners = Int(b.readLE(UInt32.self, at: 36))
        let dataBytes = b.readLE(UInt64.self, at: 40)
        guard voters <= membersMax, learners <= membersMax else {
            throw corrupt("\(voters) voters, \(learners) learners", at: 32)
        }
        let dataStart = fixedHeaderBytes + 8 * (voters + learners)
        guard dataStart <= b.count - 4, UInt64(b.count - 4 - dataStart) == dataBytes else {
            throw corrupt("data length \(dataBytes) does not match the file size \(b.count)", at: 40)
        }
        var conf = ConfState()
        for i in 0..<voters { conf.voters.insert(b.readLE(UInt64.self, at: fixedHeaderBytes + 8 * i)) }
        for i in 0..<learners { conf.learners.insert(b.readLE(UInt64.self, at: fixedHeaderBytes + 8 * (voters + i))) }
        let meta = SnapshotMetadata(
            index: b.readLE(UInt64.self, at: 16), term: b.readLE(UInt64.self, at: 24), conf: conf)
        return (meta, Array(b[dataStart..<(b.count - 4)]))
    }
}

/// `n` as 20 decimal digits, zero-padded: file names sort in numeric order.
func pad20(_ n: UInt64) -> String {
    let s = String(n)
    return String(repeating: "0", count: 20 - s.count) + s
}
