/// An array kept as chunks of `chunkCount` elements, for the audit log (one record per
/// write, never bounded by anything but pruning).
///
/// Why: a value copy of the state (a snapshot's `let copy = state`, taken on the Raft loop)
/// shares the audit log's storage, and with one `Array` the next write on the Raft loop
/// copied every record (retaining each of its strings) before appending: with the
/// tunnels, 53 ms at 37,000 writes and up to ~590 ms at 139,000 on a loaded machine, on
/// every node at the same log index — long enough for an election. Here that write copies
/// the outer array of chunk references and the last chunk only; and growth never moves
/// more than one chunk. Pruning (an operator's rare action) rebuilds the chunks.
///
/// Semantics are an array's (random access by `Int` offset from 0, in order), and it
/// encodes and decodes exactly as `[Element]` does (an unkeyed container), so snapshots
/// keep their bytes. A value; not thread-safe beyond value semantics.
struct ChunkedArray<Element>: RandomAccessCollection, MutableCollection {
    /// Elements per chunk: ~600 KiB of audit records (160 bytes each plus their strings).
    static var chunkCount: Int { 4096 }

    /// Invariant: every chunk but the last holds exactly `chunkCount` elements, and the
    /// last one holds 1...`chunkCount` (no empty chunk).
    private var chunks: [[Element]] = []
    private(set) var count = 0

    init() {}

    init<S: Sequence>(_ elements: S) where S.Element == Element {
        for e in elements { append(e) }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }
    func index(after i: Int) -> Int { i + 1 }
    func index(before i: Int) -> Int { i - 1 }

    subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "ChunkedArray index \(position) out of range 0..<\(count)")
            return chunks[position / Self.chunkCount][position % Self.chunkCount]
        }
        set {
            precondition(position >= 0 && position < count, "ChunkedArray index \(position) out of range 0..<\(count)")
            chunks[position / Self.chunkCount][position % Self.chunkCount] = newValue
        }
    }

    /// Appends at the end: touches (and, when shared, copies) the last chunk only.
    mutating func append(_ element: Element) {
        if chunks.isEmpty || chunks[chunks.count - 1].count == Self.chunkCount {
            var chunk: [Element] = []
            chunk.reserveCapacity(Self.chunkCount)
            chunk.append(element)
            chunks.append(chunk)
        } else {
            chunks[chunks.count - 1].append(element)
        }
        count += 1
    }

    /// Drops the first `k` elements: O(count), rebuilding the chunks (pruning only).
    mutating func removeFirst(_ k: Int) {
        precondition(k >= 0 && k <= count, "removeFirst(\(k)) from \(count) elements")
        guard k > 0 else { return }
        self = ChunkedArray(self.dropFirst(k))
    }

    /// Elements in the largest chunk: what one write after a copy may have to copy.
    var largestChunkCount: Int { chunks.map(\.count).max() ?? 0 }
}

extension ChunkedArray: ExpressibleByArrayLiteral {
    init(arrayLiteral elements: Element...) { self.init(elements) }
}

extension ChunkedArray: Equatable where Element: Equatable {
    static func == (a: Self, b: Self) -> Bool { a.count == b.count && a.chunks == b.chunks }
}

extension ChunkedArray: Sendable where Element: Sendable {}

extension ChunkedArray: Codable where Element: Codable {
    /// As `[Element]` encodes: one unkeyed container.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for element in self { try container.encode(element) }
    }

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        while !container.isAtEnd { append(try container.decode(Element.self)) }
    }
}
