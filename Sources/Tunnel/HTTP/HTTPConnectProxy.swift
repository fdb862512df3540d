#if canImport(Glibc)
import Glibc
#endif

/// An HTTP egress proxy reached with `CONNECT` (RFC 9110 §9.3.6): the client asks it for
/// a TCP tunnel to `HOST:PORT`, waits for a 2xx, then speaks TLS end to end through it —
/// the proxy sees only ciphertext, and mutual TLS still authenticates both ends.
///
/// The request and response handling are pure (`connectRequest`, `parseResponse`);
/// `open` is the blocking shell (a non-blocking socket and `poll`, like `HTTPClient`).
public struct HTTPConnectProxy: Sendable, Equatable, CustomStringConvertible {
    /// The proxy's address as given (`HOST:PORT`).
    public let authority: String
    /// `Proxy-Authorization` value (`Basic …`) when the URL carried `user:password@`.
    let authorization: String?

    /// Largest response head read from the proxy.
    public static let responseHeadBytesMax = 16 * 1024

    /// Parses `http://[USER:PASSWORD@]HOST:PORT[/]`. Only plain `http` proxies (the
    /// tunnel inside is TLS anyway).
    public init(url: String) throws(HTTPClientError) {
        var rest = Substring(url)
        guard rest.lowercased().hasPrefix("http://") else {
            throw HTTPClientError(.invalidRequest, "proxy URL must start with http:// (got \(Self.redacted(url)))")
        }
        rest = rest.dropFirst("http://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var credentials: String?
        if let at = rest.lastIndex(of: "@") {
            credentials = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        let text = String(rest)
        guard !text.isEmpty, !text.contains("/"), let colon = text.lastIndex(of: ":"),
            let port = UInt16(text[text.index(after: colon)...]), port > 0, colon > text.startIndex
        else {
            throw HTTPClientError(.invalidRequest, "proxy URL must be http://HOST:PORT (got \(Self.redacted(url)))")
        }
        authority = text
        authorization = credentials.map { "Basic " + Base64.encode(Array($0.utf8)) }
    }

    /// The authority only: credentials never appear in messages or logs.
    public var description: String { "http://\(authority)" }

    /// The CONNECT request for `target` (`HOST:PORT`).
    public func connectRequest(target: String) -> [UInt8] {
        var text = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let authorization { text += "Proxy-Authorization: \(authorization)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Checks the proxy's response head (through the blank line): nil for a 2xx, else
    /// the error to report — 407 says the proxy wants (other) credentials.
    public static func parseResponse(_ head: [UInt8], proxy: String, target: String) -> HTTPClientError? {
        let text = String(decoding: head, as: UTF8.self)
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status)
        else {
            return HTTPClientError(.proxy, "proxy \(proxy) did not answer CONNECT with an HTTP response")
        }
        let phrase = parts.count > 2 ? " \(parts[2])" : ""
        switch status {
        case 200..<300: return nil
        case 407:
            return HTTPClientError(
                .proxy,
                "proxy \(proxy) requires authentication (407\(phrase)); put credentials in the proxy URL (http://USER:PASSWORD@HOST:PORT)"
            )
        default:
            return HTTPClientError(.proxy, "proxy \(proxy) refused CONNECT to \(target): \(status)\(phrase)")
        }
    }

    /// Connects to the proxy, asks for a tunnel to `target` and returns the socket
    /// (non-blocking) once the proxy said 2xx: the next byte on it is the target's. Each
    /// wait is bounded by `timeoutMillis`. Blocking: call it off any event loop.
    public func open(target: String, timeoutMillis: Int32) throws(HTTPClientError) -> Int32 {
        let address: SocketAddress
        do { address = try SocketAddress(parsing: authority) } catch {
            throw HTTPClientError(.resolve, "cannot resolve proxy \(self): \(error.message)")
        }
        let fd: Int32
        do { fd = try Socket.startConnect(address) } catch {
            throw HTTPClientError(.connect, "cannot connect to proxy \(self): \(error.message)")
        }
        do throws(HTTPClientError) {
            try Self.wait(fd, Int16(POLLOUT), timeoutMillis, "connecting to proxy \(self)")
            let err = Socket.pendingError(fd)
            guard err == 0 else {
                throw HTTPClientError(.connect, "cannot connect to proxy \(self): \(String(cString: strerror(err)))")
            }
            try Self.sendAll(fd, connectRequest(target: target), timeoutMillis, "proxy \(self)")
            let head = try readHead(fd, timeoutMillis)
            if let error = Self.parseResponse(head, proxy: description, target: target) { throw error }
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Reads the response head one byte at a time, so no byte of the tunnel is consumed.
    private func readHead(_ fd: Int32, _ timeoutMillis: Int32) throws(HTTPClientError) -> [UInt8] {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !(head.count >= 4 && head.suffix(4).elementsEqual([13, 10, 13, 10])) {
            guard head.count < Self.responseHeadBytesMax else {
                throw HTTPClientError(.proxy, "proxy \(self) sent a response head over \(Self.responseHeadBytesMax) bytes")
            }
            try Self.wait(fd, Int16(POLLIN), timeoutMillis, "the answer of proxy \(self)")
            let n = Glibc.recv(fd, &byte, 1, 0)
            if n == 1 {
                head.append(byte)
            } else if n == 0 {
                throw HTTPClientError(.proxy, "proxy \(self) closed the connection before answering CONNECT")
            } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                throw HTTPClientError(.io, "reading from proxy \(self): \(String(cString: strerror(errno)))")
            }
        }
        return head
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8], _ timeoutMillis: Int32, _ peer: String)
        throws(HTTPClientError)
    {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(fd, Int16(POLLOUT), timeoutMillis, "sending to \(peer)")
            } else {
                throw HTTPClientError(.io, "writing to \(peer): \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func wait(_ fd: Int32, _ events: Int16, _ timeoutMillis: Int32, _ what: String)
        throws(HTTPClientError)
    {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let rc = Glibc.poll(&pfd, 1, timeoutMillis)
            if rc > 0 { return }
            if rc == 0 { throw HTTPClientError(.timeout, "timeout after \(timeoutMillis) ms waiting for \(what)") }
            if errno != EINTR { throw HTTPClientError(.io, "poll: \(String(cString: strerror(errno)))") }
        }
    }

    /// `url` without anything between `//` and `@`.
    static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        let schemeEnd = url.hasPrefix("http://") ? url.index(url.startIndex, offsetBy: 7) : url.startIndex
        return String(url[..<schemeEnd]) + "…" + String(url[at...])
    }
}
