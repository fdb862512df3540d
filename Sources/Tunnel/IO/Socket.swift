#if canImport(Glibc)
import Glibc
#endif
import CShim

/// Thin wrappers over the socket syscalls used by the event loop. All sockets are
/// non-blocking and close-on-exec.
enum Socket {
    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A listening socket. `reusePort` lets one listener per event loop share the port,
    /// so the kernel spreads accepts across loops without a hand-off between threads.
    static func listen(_ address: SocketAddress, backlog: Int32 = 4096, reusePort: Bool) throws(SocketError) -> Int32 {
        let fd = warren_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw SocketError.posix(.socket, "socket() for \(address)") }
        setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if reusePort { setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
        if address.family == AF_INET6 { setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        let rc = address.withSockaddr { bind(fd, $0, $1) }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SocketError.posix(.bind, "cannot listen on \(address)", errno: e)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SocketError.posix(.listen, "listen() on \(address)", errno: e)
        }
        return fd
    }

    /// Starts a non-blocking connect; completion is signalled by writability.
    static func startConnect(_ address: SocketAddress) throws(SocketError) -> Int32 {
        let fd = warren_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw SocketError.posix(.socket, "socket() for \(address)") }
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let rc = address.withSockaddr { connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            let e = errno
            close(fd)
            throw SocketError.posix(.connect, "cannot connect to \(address)", errno: e)
        }
        return fd
    }

    /// The pending error of a socket (after a non-blocking connect), 0 when none.
    static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0), length: Int(len)) }
    }
}
