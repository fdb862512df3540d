/// A growable byte queue with a read index, for bytes waiting on one connection.
///
/// Not thread-safe: owned by one connection on one event loop. Storage is allocated
/// lazily and released by `releaseIfEmpty()`, so an idle connection holds no buffer.
/// Invariant: `readerIndex <= writerIndex <= capacity`.
struct ByteBuffer: ~Copyable {
    private var storage: UnsafeMutableRawPointer?
    private(set) var capacity: Int = 0
    private var readerIndex: Int = 0
    private var writerIndex: Int = 0

    init() {}

    deinit { storage?.deallocate() }

    /// Bytes waiting to be consumed.
    var count: Int { writerIndex - readerIndex }
    var isEmpty: Bool { writerIndex == readerIndex }

    /// The readable bytes; valid until the next mutating call.
    var readable: UnsafeRawBufferPointer {
        guard let storage else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        // Safe: [readerIndex, writerIndex) lies inside the allocation (type invariant).
        return UnsafeRawBufferPointer(start: storage + readerIndex, count: count)
    }

    /// Drops `n` bytes from the front.
    mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= count, "consume(\(n)) of \(count) bytes")
        readerIndex += n
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
    }

    /// Appends bytes, growing the storage geometrically.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        let space = reserveWritable(bytes.count)
        // Safe: reserveWritable returned at least bytes.count writable bytes.
        space.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Returns at least `minimum` writable bytes after the readable ones; commit what
    /// was written with `commitWritten(_:)`.
    mutating func reserveWritable(_ minimum: Int) -> UnsafeMutableRawBufferPointer {
        if capacity - writerIndex < minimum {
            if readerIndex > 0 && capacity - count >= minimum && count <= capacity / 2 {
                // Compact: moving a small remainder is cheaper than growing.
                if let storage { storage.copyMemory(from: storage + readerIndex, byteCount: count) }
                writerIndex = count
                readerIndex = 0
            } else {
                grow(toFit: count + minimum)
            }
        }
        // Safe: capacity - writerIndex >= minimum after the branch above.
        return UnsafeMutableRawBufferPointer(start: storage! + writerIndex, count: capacity - writerIndex)
    }

    mutating func commitWritten(_ n: Int) {
        precondition(n >= 0 && writerIndex + n <= capacity)
        writerIndex += n
    }

    /// Frees the storage when nothing is buffered (idle connections hold no memory).
    mutating func releaseIfEmpty() {
        guard isEmpty, let storage else { return }
        storage.deallocate()
        self.storage = nil
        capacity = 0
        readerIndex = 0
        writerIndex = 0
    }

    private mutating func grow(toFit needed: Int) {
        var newCapacity = Swift.max(capacity, 4096)
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let storage {
            newStorage.copyMemory(from: storage + readerIndex, byteCount: count)
            storage.deallocate()
        }
        writerIndex = count
        readerIndex = 0
        storage = newStorage
        capacity = newCapacity
    }
}
