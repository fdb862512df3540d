// WAL micro-benchmark: compiled by scripts/bench-wal together with the Storage sources
// (not part of the package build). Prints CRC32C throughput and append+sync latency.
import Glibc

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
}

/// `x` with one decimal.
func f1(_ x: Double) -> String { String(Double(Int((x * 10).rounded())) / 10) }

let args = CommandLine.arguments
let dir = args.count > 1 ? args[1] : "/tmp/warren-bench-wal"
let rounds = args.count > 2 ? Int(args[2]) ?? 2000 : 2000

// CRC32C throughput over 1 MiB.
let block = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
var acc: UInt32 = 0
let crcStart = nowNs()
for _ in 0..<200 { acc = CRC32C.checksum(block, seed: acc) }
let crcNs = nowNs() - crcStart
let gbPerS = 200.0 * Double(1 << 20) / Double(crcNs)
print("crc32c: \(f1(gbPerS)) GB/s (checksum \(String(acc, radix: 16)))")

// Append batches then sync, as the driver does once per Ready.
for (batch, size) in [(1, 256), (64, 256)] {
    _ = system("rm -rf '\(dir)'")
    let store = try FileLogStore(directory: dir)
    _ = try store.load()
    var index: UInt64 = 1
    let payload = [UInt8](repeating: 0xA5, count: size)
    var appendNs: [UInt64] = []
    var syncNs: [UInt64] = []
    for r in 0..<rounds {
        var entries: [Entry] = []
        entries.reserveCapacity(batch)
        for _ in 0..<batch {
            entries.append(Entry(term: 1, index: index, data: payload))
            index += 1
        }
        let t0 = nowNs()
        try store.append(entries)
        try store.setHardState(HardState(term: 1, vote: 1, commit: index - 1))
        let t1 = nowNs()
        try store.sync()
        let t2 = nowNs()
        if r >= 10 {
            appendNs.append(t1 - t0)
            syncNs.append(t2 - t1)
        }
    }
    try store.close()
    appendNs.sort()
    syncNs.sort()
    let total = appendNs.reduce(0, +) + syncNs.reduce(0, +)
    let rate: Double = Double(appendNs.count * batch) / (Double(total) / 1e9)
    let a50 = f1(percentile(appendNs, 0.5))
    let a99 = f1(percentile(appendNs, 0.99))
    let s50 = f1(percentile(syncNs, 0.5))
    let s99 = f1(percentile(syncNs, 0.99))
    print(
        "batch \(batch) x \(size) B: append+setHardState p50 \(a50) µs p99 \(a99) µs | "
            + "sync (1 pwrite + 1 fdatasync) p50 \(s50) µs p99 \(s99) µs | \(Int(rate)) entries/s")
}

// Recovery time for what the last run left.
let t0 = nowNs()
let store = try FileLogStore(directory: dir)
let state = try store.load()
let loadMs: Double = Double(nowNs() - t0) / 1e6
print("load: \(state.entries.count) entries in \(f1(loadMs)) ms")
_ = system("rm -rf '\(dir)'")
