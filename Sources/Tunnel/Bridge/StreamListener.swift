#if canImport(Glibc)
import Glibc
#endif
import CShim
internal import Synchronization

/// A TCP listener that hands each accepted socket to a closure, which typically carries
/// it over a tunnel (`MuxBridge.carry`): the gateway side of an "expose" mapping or a
/// local forward.
///
/// Threading: one listener per loop of the group, sharing the port (SO_REUSEPORT), so
/// the kernel spreads accepts; `onAccept` runs on the accepting loop with the socket
/// (non-blocking; ownership moves to the closure, which must close it or hand it on) and
/// the client's `HOST:PORT`. `init` and `stop` may be called from any thread except a
/// loop thread of the group (they wait for each loop).
public final class StreamListener: Sendable {
    /// The bound port (the one picked when the address asked for port 0).
    public let port: UInt16
    private let group: EventLoopGroup
    // Safe: slot i is touched only on group.loops[i]'s thread (set in init, cleared in stop).
    nonisolated(unsafe) private var listeners: [Listener?]
    /// The first listener's socket (any socket of the SO_REUSEPORT group steers it) while
    /// the listener runs; nil once stopped, so `steer` never touches a closed fd.
    private let steeringFD = Mutex<Int32?>(nil)

    /// Binds `address` on every loop of `group` and starts accepting. Connections from
    /// peers `proxyProtocolFrom` accepts (trusted load balancers) must start with a PROXY
    /// protocol v2 header within `proxyHeaderTimeoutNanos`; `onAccept` then gets the
    /// header's client address, and a connection without a valid header is closed.
    public init(address: SocketAddress, group: EventLoopGroup,
                proxyProtocolFrom: (@Sendable (String) -> Bool)? = nil,
                proxyHeaderTimeoutNanos: UInt64 = 10_000_000_000,
                onAccept: @escaping @Sendable (_ fd: Int32, _ remoteAddress: String) -> Void) throws {
        precondition(!group.loops.contains { $0.inEventLoop }, "StreamListener.init waits for the loops: call it off them")
        self.group = group
        listeners = Array(repeating: nil, count: group.loops.count)
        var bound = address
        var boundPort: UInt16 = 0
        for (i, loop) in group.loops.enumerated() {
            let at = bound
            let listener = try Relay.onLoop(loop) { () throws -> Listener in
                try Listener(loop: loop, address: at, reusePort: true) { fd, from in
                    let peer = from.description
                    guard let trusted = proxyProtocolFrom, trusted(ProxyProtocolV2.host(ofPeer: peer)) else {
                        return onAccept(fd, peer)
                    }
                    ProxyPreambleReader.read(fd: fd, loop: loop, timeoutNanos: proxyHeaderTimeoutNanos) { result in
                        switch result {
                        case .success(let client): onAccept(fd, client ?? peer)
                        case .failure: _ = Glibc.close(fd)
                        }
                    }
                }
            }
            if i == 0, let local = listener.localAddress {
                // Port 0 picked a port: the other loops' listeners must share that one.
                boundPort = local.port
                bound = local
            }
            listeners[i] = listener
        }
        port = boundPort
        steeringFD.withLock { $0 = listeners.first??.fd }
    }

    /// Makes the kernel hand every new connection to the listener on `loop` (a loop of
    /// the group), e.g. the loop of the tunnel session that will carry them, so a client
    /// is accepted where its stream lives and no thread hop follows. An optimisation
    /// only: a client accepted elsewhere is still carried (with a hop). The listeners
    /// joined their SO_REUSEPORT group in loop order, so loop i's socket is number i.
    /// Any thread; false when it could not be set (the kernel keeps spreading by hash).
    @discardableResult
    public func steer(to loop: EventLoop) -> Bool {
        guard let index = group.loops.firstIndex(where: { $0 === loop }) else { return false }
        return steeringFD.withLock { fd in
            guard let fd else { return false }
            return warren_reuseport_steer(fd, UInt32(index)) == 0
        }
    }

    /// Stops accepting (sockets already handed on are not affected). Idempotent.
    public func stop() {
        steeringFD.withLock { $0 = nil }
        for (i, loop) in group.loops.enumerated() {
            _ = try? Relay.onLoop(loop) { [self] in
                listeners[i]?.close()
                listeners[i] = nil
            }
        }
    }

    /// The connected peer of `fd` as `HOST:PORT`, or "unknown".
    static func peerAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return "unknown" }
        // Safe: getpeername filled `length` valid bytes of `storage`.
        return withUnsafePointer(to: &storage) {
            SocketAddress(storage: UnsafeRawPointer($0), length: Int(length)).description
        }
    }
}
