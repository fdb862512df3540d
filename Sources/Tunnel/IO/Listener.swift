#if canImport(Glibc)
import Glibc
#endif
import CShim

/// A listening socket on one loop that hands each accepted fd to `onAccept`.
/// Loop thread only.
final class Listener: EventHandler {
    let loop: EventLoop
    let fd: Int32
    private var registration: EventLoop.Registration?
    private let onAccept: (Int32) -> Void

    init(loop: EventLoop, address: SocketAddress, reusePort: Bool, onAccept: @escaping (Int32) -> Void) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.onAccept = onAccept
        fd = try Socket.listen(address, reusePort: reusePort)
        registration = try loop.register(fd: fd, events: EpollEvents.readable, handler: self)
    }

    var localAddress: SocketAddress? { Socket.localAddress(fd) }

    func handleEvents(_ events: UInt32) {
        // Bounded per wake-up so one busy listener cannot starve the loop's connections.
        for _ in 0..<64 {
            let client = warren_accept4(fd, nil, nil)
            if client >= 0 {
                onAccept(client)
                continue
            }
            let e = warren_errno()
            // EMFILE/ENFILE: stop for this wake-up; level-triggered epoll retries later.
            if e != EINTR && e != ECONNABORTED { return }
        }
    }

    func close() {
        if let registration { loop.deregister(registration) }
        registration = nil
        Glibc.close(fd)
    }
}
