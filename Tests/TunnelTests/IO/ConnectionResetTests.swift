#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import Tunnel

/// A socket reset while its connection is not reading: epoll reports the error and
/// hang-up whatever the interest, so the connection must close on them rather than leave
/// its loop woken for ever with nothing to do.
@Suite("Connection: resets while not reading")
struct ConnectionResetTests {
    /// Pauses reading as soon as it is active; records the close.
    private final class Paused: ConnectionDelegate {
        let closed = Mutex<(done: Bool, error: String?)>((false, nil))
        let active = Mutex(false)
        func connectionDidBecomeActive(_ connection: Connection) {
            connection.pauseReading()
            active.withLock { $0 = true }
        }
        func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {}
        func connectionDidReadEOF(_ connection: Connection) {}
        func connectionDidDrain(_ connection: Connection) {}
        func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
            closed.withLock { $0 = (true, error.map { "\($0)" }) }
        }
    }

    @Test func aResetWhileReadingIsPausedClosesTheConnection() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let delegate = Paused()
        let listener = try Relay.onLoop(loop) { () throws -> Listener in
            try Listener(loop: loop, address: try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false) { fd in
                guard let connection = try? Connection(loop: loop, acceptedFD: fd, tls: nil, limits: ConnectionLimits())
                else { return }
                connection.delegate = delegate
                try? connection.start()
            }
        }
        defer { _ = try? Relay.onLoop(loop) { listener.close() } }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let address = try SocketAddress(parsing: "127.0.0.1:\(listener.localAddress!.port)")
        try #require(address.withSockaddr { connect(fd, $0, $1) } == 0)
        let sent = pattern(1000).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(sent == 1000)
        #expect(eventually { delegate.active.withLock { $0 } })
        // Closing with unread bytes and a zero linger sends a RST.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
        #expect(eventually { delegate.closed.withLock { $0.done } })
        #expect(delegate.closed.withLock { $0.error } != nil)
    }
}
