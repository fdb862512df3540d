import Foundation
import Testing

/// Ports for the processes tests start (nodes, mapping listeners, targets) when a test must
/// know the port before the process binds it.
///
/// Why not "bind :0, read the port, close": that port is back in the kernel's ephemeral
/// range at once, where any client socket's source port or another bind(:0) may take it
/// before the node binds it — under load a test's client then met another test's listener
/// ("wrong version number" from TLS, refused connections). Ports here come from above the
/// ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default), which
/// the kernel never hands out by itself:
/// - a process-wide counter keeps this test process's ports distinct from each other;
/// - a random start keeps concurrently running test processes (several worktrees) apart;
/// - each port is still checked by binding it on every address, so one held by anyone
///   else is skipped.
/// If the space above the ephemeral range is too small (under 1,000 ports), it falls back
/// to bind(:0).
enum TestPorts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cursor: Int?

    /// The first port above the kernel's ephemeral range, and how many follow it.
    static let space: (first: Int, count: Int) = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let high = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }.last
        let first = (high ?? 60999) + 1
        return (first, max(0, 65536 - first))
    }()

    /// A port no socket holds now, distinct from every other port this process was given.
    static func next() throws -> UInt16 {
        let (first, count) = space
        guard count >= 1000 else { return try ephemeral() }
        lock.lock()
        defer { lock.unlock() }
        var offset = cursor ?? Int.random(in: 0..<count)
        for _ in 0..<count {
            let port = first + offset % count
            offset += 1
            if isFree(UInt16(port)) {
                cursor = offset
                return UInt16(port)
            }
        }
        throw TestPortError("no free port in \(first)…65535")
    }

    /// Whether `port` can be bound on the wildcard address (so on no loopback address is it
    /// bound by anyone else).
    static func isFree(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = INADDR_ANY
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func ephemeral() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, length) == 0 else { return -1 }
                return getsockname(fd, p, &length)
            }
        }
        guard bound == 0 else { throw TestPortError("no free port") }
        return UInt16(bigEndian: address.sin_port)
    }
}

struct TestPortError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Test ports")
struct TestPortsTests {
    @Test func portsAreDistinctAboveTheEphemeralRangeAndBindable() throws {
        let ports = try (0..<50).map { _ in try TestPorts.next() }
        #expect(Set(ports).count == ports.count)
        if TestPorts.space.count >= 1000 {
            #expect(ports.allSatisfy { Int($0) >= TestPorts.space.first })
        }
        #expect(ports.allSatisfy(TestPorts.isFree))
    }
}
