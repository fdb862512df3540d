#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import Tunnel

/// Raises the open-file limit to its hard maximum (1,000-connection tests need ~6,000 fds).
func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// An echo server on the I/O core: writes back what it reads, with backpressure, and
/// half-closes after the peer does.
final class EchoServer: Sendable {
    /// `accepted` counts connections that reached the target.
    let statistics: Relay.Statistics
    let port: UInt16
    private let group: EventLoopGroup
    nonisolated(unsafe) private var listener: Listener?

    init(group: EventLoopGroup) throws {
        self.group = group
        let loop = group.loops[0]
        let stats = Relay.Statistics()
        statistics = stats
        let listener = try Relay.onLoop(loop) { () throws -> Listener in
            try Listener(loop: loop, address: try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false) { fd in
                stats.accepted.increment()
                guard let connection = try? Connection(
                    loop: loop, acceptedFD: fd, tls: nil, limits: ConnectionLimits())
                else { return }
                let echo = Echo()
                connection.delegate = echo
                try? connection.start()
            }
        }
        port = listener.localAddress!.port
        self.listener = listener
    }

    func stop() {
        let loop = group.loops[0]
        _ = try? Relay.onLoop(loop) { [self] in listener?.close() }
    }

    private final class Echo: ConnectionDelegate {
        func connectionDidBecomeActive(_ connection: Connection) {}
        func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
            connection.write(bytes)
            if !connection.isWritable { connection.pauseReading() }
        }
        func connectionDidReadEOF(_ connection: Connection) { connection.shutdownWrite() }
        func connectionDidDrain(_ connection: Connection) { connection.resumeReading() }
        func connection(_ connection: Connection, didCloseWith error: (any Error)?) {}
    }
}

/// A blocking TCP client for tests, with a receive timeout so a bug fails instead of hanging.
final class BlockingClient {
    let fd: Int32

    init(port: UInt16, timeoutSeconds: Int = 20) throws {
        let address = try SocketAddress(parsing: "127.0.0.1:\(port)")
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = address.withSockaddr { connect(fd, $0, $1) }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError.posix(.connect, "test client connect", errno: e)
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw SocketError.posix(.io, "test client send") }
            sent += n
        }
    }

    /// Reads exactly `count` bytes, or fewer if the peer closes (FIN, or RST: a peer that
    /// closes with our bytes unread resets the connection) first.
    func receive(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n == 0 || (n < 0 && errno == ECONNRESET) { break }
            guard n > 0 else { throw SocketError.posix(.io, "test client recv") }
            got += n
        }
        return Array(out[0..<got])
    }

    /// Reads until the peer closes; returns the byte count (and a checksum of the bytes).
    func drainToEOF() throws -> (count: Int, sum: UInt64) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        var sum: UInt64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { return (total, sum) }
            guard n > 0 else { throw SocketError.posix(.io, "test client recv") }
            for i in 0..<n { sum = sum &* 31 &+ UInt64(buffer[i]) }
            total += n
        }
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }
}

/// Polls `condition` until it holds or `seconds` pass (waiting on an observable fact,
/// not sleeping a guessed time).
func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nowNanos() + UInt64(seconds * 1e9)
    while MonotonicClock.nowNanos() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

func pattern(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}
