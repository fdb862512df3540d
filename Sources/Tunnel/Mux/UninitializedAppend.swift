/// Appending bytes to an array without zero-filling them first: `Array.append(contentsOf:)`
/// hands a sequence's `_copyContents` the array's spare capacity, uninitialized, and keeps
/// as many bytes as it reports written. `MuxSession.sendInPlace` uses it so a socket read
/// lands in the output's spare capacity directly; appending `repeatElement(0, …)` first
/// cost more than the copy it saved (a byte loop over 256 KiB per read).
struct UninitializedAppend: Sequence {
    typealias Element = UInt8
    /// Most bytes `body` may write (the caller reserved at least this much capacity).
    let count: Int
    /// Writes up to `buffer.count` bytes at the start of `buffer`; returns how many.
    let body: (UnsafeMutableRawBufferPointer) -> Int

    func makeIterator() -> EmptyCollection<UInt8>.Iterator { EmptyCollection().makeIterator() }

    /// 0: `Array.append` traps if this is more than what `_copyContents` writes.
    var underestimatedCount: Int { 0 }

    func _copyContents(
        initializing buffer: UnsafeMutableBufferPointer<UInt8>
    ) -> (EmptyCollection<UInt8>.Iterator, Int) {
        let room = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[..<Swift.min(count, buffer.count)])
        let written = room.isEmpty ? 0 : body(room)
        precondition(written >= 0 && written <= room.count, "UninitializedAppend: wrote \(written) of \(room.count) bytes")
        // Bytes are trivial: the first `written` are initialized once written.
        return (makeIterator(), written)
    }
}

extension Array where Element == UInt8 {
    /// Appends what `body` writes into up to `count` uninitialized bytes of spare capacity
    /// (reserved here, growing geometrically); returns how many it wrote.
    mutating func appendUninitialized(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        let needed = self.count + count
        if capacity < needed { reserveCapacity(Swift.max(needed, 2 * capacity)) }
        let before = self.count
        withoutActuallyEscaping(body) { body in append(contentsOf: UninitializedAppend(count: count, body: body)) }
        return self.count - before
    }
}
