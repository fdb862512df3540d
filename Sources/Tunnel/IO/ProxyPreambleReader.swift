#if canImport(Glibc)
import Glibc
#endif

/// Reads the PROXY protocol v2 header off a socket accepted from a trusted load balancer,
/// before anything else touches it, then hands the socket on. Reads exactly the header's
/// bytes and never one more (the fixed part first, then the length it announces), so the
/// TLS ClientHello or the client's data that follows stays in the socket untouched.
///
/// Threading: loop thread only. The reader keeps itself alive (registered with the loop)
/// until it completes exactly once: with the client's address (nil for a LOCAL header,
/// e.g. a health check: keep the socket's peer address), or with an error after which the
/// caller closes the fd. A deadline bounds a load balancer that never sends the header.
final class ProxyPreambleReader: EventHandler {
    typealias Completion = (Result<String?, SocketError>) -> Void

    private let loop: EventLoop
    private let fd: Int32
    private var registration: EventLoop.Registration?
    private var timer: TimerHandle?
    private var completion: Completion?
    /// Invariant: holds only header bytes (at most `fixedBytes + bodyBytesMax`).
    private var buffer: [UInt8] = []

    /// Starts reading; `completion` runs on `loop`, once.
    static func read(fd: Int32, loop: EventLoop, timeoutNanos: UInt64, completion: @escaping Completion) {
        loop.assertInEventLoop()
        let reader = ProxyPreambleReader(loop: loop, fd: fd, completion: completion)
        do {
            reader.registration = try loop.register(fd: fd, events: EpollEvents.readable, handler: reader)
        } catch {
            return completion(.failure(error))
        }
        reader.timer = loop.schedule(afterNanos: timeoutNanos) { [weak reader] in
            reader?.finish(.failure(SocketError(.timeout, "no PROXY protocol header within the handshake timeout")))
        }
    }

    private init(loop: EventLoop, fd: Int32, completion: @escaping Completion) {
        self.loop = loop
        self.fd = fd
        self.completion = completion
        buffer.reserveCapacity(ProxyProtocolV2.fixedBytes + 64)
    }

    func handleEvents(_ events: UInt32) {
        var wanted = ProxyProtocolV2.fixedBytes
        while completion != nil {
            switch ProxyProtocolV2.parse(buffer) {
            case .incomplete(let total): wanted = total
            case .proxied(let source, _, _): return finish(.success(source))
            case .local: return finish(.success(nil))
            case .invalid(let why): return finish(.failure(SocketError(.proxyHeader, why)))
            }
            var chunk = [UInt8](repeating: 0, count: wanted - buffer.count)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer += chunk[0..<n]
                continue
            }
            if n == 0 {
                return finish(.failure(SocketError(.closed, "the load balancer closed before a PROXY header")))
            }
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }  // wait for more
            return finish(.failure(SocketError.posix(.io, "read PROXY header", errno: e)))
        }
    }

    private func finish(_ result: Result<String?, SocketError>) {
        guard let completion else { return }
        self.completion = nil
        timer?.cancel()
        timer = nil
        if let registration { loop.deregister(registration) }
        registration = nil
        completion(result)
    }
}
