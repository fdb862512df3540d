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
    /// Set by the peer-address init: accept4 fills the client's address, so no
    /// getpeername call follows each accept.
    private let onAcceptFrom: ((Int32, SocketAddress) -> Void)?

    init(loop: EventLoop, address: SocketAddress, reusePort: Bool, onAccept: @escaping (Int32) -> Void) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.onAccept = onAccept
        self.onAcceptFrom = nil
        fd = try Socket.listen(address, reusePort: reusePort)
        registration = try loop.register(fd: fd, events: EpollEvents.readable, handler: self)
    }

    /// Like `init(loop:address:reusePort:onAccept:)`, handing each accepted fd with the
    /// client's address (taken from accept4 itself).
    init(loop: EventLoop, address: SocketAddress, reusePort: Bool,
         onAcceptFrom: @escaping (Int32, SocketAddress) -> Void) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.onAccept = { _ in }
        self.onAcceptFrom = onAcceptFrom
        fd = try Socket.listen(address, reusePort: reusePort)
        registration = try loop.register(fd: fd, events: EpollEvents.readable, handler: self)
    }

    var localAddress: SocketAddress? { Socket.localAddress(fd) }

    func handleEvents(_ events: UInt32) {
        // Bounded per wake-up so one busy listener cannot starve the loop's connections.
        var storage = sockaddr_storage()
        for _ in 0..<64 {
            var length = UInt32(MemoryLayout<sockaddr_storage>.size)
            let client = onAcceptFrom == nil
                ? warren_accept4(fd, nil, nil) : withUnsafeMutableBytes(of: &storage) { warren_accept4(fd, $0.baseAddress, &length) }
            if client >= 0 {
                if let onAcceptFrom {
                    // Safe: accept4 wrote `length` valid bytes of the address into `storage`.
                    let peer = withUnsafeBytes(of: &storage) {
                        SocketAddress(storage: $0.baseAddress!, length: min(Int(length), $0.count))
                    }
                    onAcceptFrom(client, peer)
                } else {
                    onAccept(client)
                }
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
