import Foundation
import Testing
import Tunnel

@testable import Node

/// A small HTTP CONNECT proxy for tests: one thread per connection, optional Basic
/// credentials, and a record of every CONNECT it was asked for.
final class TestConnectProxy: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var requests: [String] = []
    /// `user:password` the proxy wants; nil = none.
    let credentials: String?

    init(credentials: String? = nil) throws {
        self.credentials = credentials
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard ok else { throw CommandError("test proxy: bind failed") }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread { [self] in serve(client) }
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

    /// The request lines received so far ("CONNECT host:port HTTP/1.1").
    var connects: [String] { lock.lock(); defer { lock.unlock() }; return requests }

    private func serve(_ client: Int32) {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !(head.count >= 4 && head.suffix(4).elementsEqual([13, 10, 13, 10])) {
            guard read(client, &byte, 1) == 1, head.count < 16384 else { return closeBoth(client, -1) }
            head.append(byte)
        }
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        lock.lock(); requests.append(lines[0]); lock.unlock()
        let parts = lines[0].split(separator: " ")
        guard parts.count == 3, parts[0] == "CONNECT" else {
            reply(client, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return closeBoth(client, -1)
        }
        if let credentials {
            let expected = "Proxy-Authorization: Basic " + Data(credentials.utf8).base64EncodedString()
            guard lines.contains(expected) else {
                reply(client, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n")
                return closeBoth(client, -1)
            }
        }
        let target = String(parts[1])
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else {
            return closeBoth(client, -1)
        }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(String(target[..<colon]))
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            reply(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return closeBoth(client, upstream)
        }
        reply(client, "HTTP/1.1 200 Connection established\r\n\r\n")
        Thread.detachNewThread { Self.pump(from: upstream, to: client) }
        Self.pump(from: client, to: upstream)
    }

    private func reply(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func closeBoth(_ a: Int32, _ b: Int32) {
        close(a)
        if b >= 0 { close(b) }
    }

    /// Copies until EOF, then half-closes the other side (and closes the source).
    static func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                guard w > 0 else { break }
                sent += w
            }
        }
        shutdown(to, Int32(SHUT_WR))
        shutdown(from, Int32(SHUT_RD))
    }
}

@Suite("HTTP CONNECT egress proxy", .serialized)
struct ConnectProxyTests {
    @Test(arguments: [
        ("http://proxy.corp:3128", "proxy.corp:3128", nil),
        ("http://proxy.corp:3128/", "proxy.corp:3128", nil),
        ("HTTP://10.0.0.1:8080", "10.0.0.1:8080", nil),
        ("http://[fd00::1]:3128", "[fd00::1]:3128", nil),
        ("http://u:p@proxy:1", "proxy:1", "Basic dTpw"),
    ] as [(String, String, String?)])
    func proxyURLsParse(url: String, authority: String, authorization: String?) throws {
        let proxy = try HTTPConnectProxy(url: url)
        #expect(proxy.authority == authority)
        let request = String(decoding: proxy.connectRequest(target: "gw:7441"), as: UTF8.self)
        #expect(request.hasPrefix("CONNECT gw:7441 HTTP/1.1\r\nHost: gw:7441\r\n"))
        #expect(request.hasSuffix("\r\n\r\n"))
        #expect(request.contains("Proxy-Authorization: \(authorization ?? "-")") == (authorization != nil))
        #expect(!proxy.description.contains("@"))
    }

    @Test(arguments: ["https://proxy:3128", "http://proxy", "http://proxy:0", "http://proxy:99999", "proxy:3128",
                      "http://:3128", "http://proxy:3128/path", "http://user:secret@proxy"])
    func badProxyURLsAreRefusedWithoutEchoingCredentials(url: String) {
        do {
            _ = try HTTPConnectProxy(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(error.message.contains("http://"), "\(error)")
            #expect(!error.message.contains("secret"))
        }
    }

    @Test(arguments: [
        ("HTTP/1.1 200 Connection established\r\n\r\n", nil),
        ("HTTP/1.0 200 OK\r\nX: y\r\n\r\n", nil),
        ("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "requires authentication (407 Proxy Authentication Required)"),
        ("HTTP/1.1 403 Forbidden\r\n\r\n", "refused CONNECT to gw:7441: 403 Forbidden"),
        ("SSH-2.0-OpenSSH\r\n\r\n", "did not answer CONNECT with an HTTP response"),
    ] as [(String, String?)])
    func proxyAnswersAreChecked(head: String, error: String?) {
        let result = HTTPConnectProxy.parseResponse(Array(head.utf8), proxy: "http://p:1", target: "gw:7441")
        #expect(result?.message.contains(error ?? "") ?? (error == nil), "\(String(describing: result))")
        #expect((result == nil) == (error == nil))
        if result != nil { #expect(result?.code == .proxy) }
    }

    /// The connector enrols, fetches its configuration and holds its session through the
    /// proxy (TLS end to end inside CONNECT), and an expose mapping carries bytes.
    @Test func aConnectorBehindAnEgressProxyEnrolsAndCarriesStreams() throws {
        let proxy = try TestConnectProxy(credentials: "edge:s3cret")
        let f = try ConnectorFixture(
            name: "proxied", proxy: try HTTPConnectProxy(url: "http://edge:s3cret@127.0.0.1:\(proxy.port)"))
        let echo = try EchoServer()
        let port = try ProcessCluster.freePort()
        _ = try f.create(
            "/v1/mappings",
            #"{"tunnelId":"\#(f.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(port)}"#)
        let payload = randomPayload(2 << 20, seed: 7)
        var answer: [UInt8] = []
        try waitUntil("the mapping carries a client") {
            answer = (try? roundTrip(port: port, payload)) ?? []
            return answer == payload
        }
        #expect(answer == payload)
        let node = "127.0.0.1:\(f.node.port)"
        // CA probe + enrolment, configuration, session (and the watch) all went through it.
        #expect(proxy.connects.filter { $0 == "CONNECT \(node) HTTP/1.1" }.count >= 4, "\(proxy.connects)")
        #expect(proxy.connects.allSatisfy { $0 == "CONNECT \(node) HTTP/1.1" })
    }

    /// `warren connector --proxy` against a proxy that wants other credentials: a non-zero
    /// exit and one line naming the 407, without the password given.
    @Test func aProxyAskingForCredentialsStopsTheCommandWithAClearReason() throws {
        let proxy = try TestConnectProxy(credentials: "edge:right")
        let node = try TestNode()
        let created = node.json(try node.call("POST", "/v1/tunnels", body: #"{"name":"p407"}"#, as: .adminCertificate))
        var url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        url.port = node.port
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ProcessCluster.warrenBinary())
        process.arguments = [
            "connector", "--url",
            "https://\(url.address)/v1/connect/\(url.tunnelId)?token=\(url.token)&ca=sha256:\(url.caFingerprint)", "--state-dir", node.dir + "/conn",
            "--proxy", "http://edge:wrong@127.0.0.1:\(proxy.port)",
        ]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(text.contains("requires authentication (407"), "\(text)")
        #expect(!text.contains("wrong"), "the password stays out of the message")
        #expect(text.split(separator: "\n").count == 1, "\(text)")
        #expect(proxy.connects.count == 1)
    }
}
