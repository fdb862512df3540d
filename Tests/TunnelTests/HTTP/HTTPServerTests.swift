#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@testable import Tunnel

/// HTTPServer and HTTPClient against each other over real loopback sockets.
@Suite("HTTP server and client over loopback", .serialized)
struct HTTPServerTests {
    @Test func aPlainRequestRoundTripsWithPathQueryHeadersAndBody() throws {
        let rig = try HTTPRig(handler: echoHandler)
        defer { rig.stop() }
        let client = rig.client()
        let response = try client.send(
            HTTPClientRequest(method: "POST", path: "/v1/a%20b?x=1&y=two+words&x=3", body: Array("payload".utf8)))
        #expect(response.status == .ok)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/a b [x=1&y=two words] 7 none 127.0.0.1:"))
        #expect(response.headers["x-body"] == "payload")
        #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
        let head = try client.send(HTTPClientRequest(method: "HEAD", path: "/h"))
        #expect(head.status == .ok && head.body.isEmpty)
        #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)
    }

    @Test func twoRequestsReuseOneKeptAliveConnection() throws {
        let rig = try HTTPRig(handler: echoHandler)
        defer { rig.stop() }
        let client = rig.client()
        for i in 0..<2 {
            let response = try client.send(HTTPClientRequest(path: "/n/\(i)"))
            #expect(String(decoding: response.body, as: UTF8.self).hasPrefix("GET /n/\(i) "))
        }
        #expect(client.connectionsOpened == 1)
        #expect(rig.server.statistics.accepted.load == 1)
        // Counted on the loop just after the bytes went out, so possibly after the client read them.
        #expect(eventually { rig.server.statistics.requestsServed.load == 2 })
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstIsSlow() throws {
        let rig = try HTTPRig { request, responder in
            let response = HTTPResponse.text("answer to \(request.path)")
            if request.path == "/slow" {
                onOtherThread(afterMillis: 50) { responder.respond(response) }
            } else {
                responder.respond(response)
            }
        }
        defer { rig.stop() }
        let socket = try BlockingClient(port: rig.server.port)
        let paths = ["/slow", "/b", "/c"]
        try socket.send(Array(paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined().utf8))
        let expected = paths.flatMap { HTTPResponse.text("answer to \($0)").serialized() }
        let received = try socket.receive(expected.count)
        #expect(String(decoding: received, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        #expect(rig.server.statistics.accepted.load == 1)
    }

    @Test func aResponderCompletedFromAnotherThreadIsDelivered() throws {
        let rig = try HTTPRig { request, responder in
            onOtherThread(afterMillis: 10) { responder.respond(.text("later \(request.path)", status: .accepted)) }
        }
        defer { rig.stop() }
        let client = rig.client()
        for i in 0..<5 {
            let response = try client.send(HTTPClientRequest(path: "/x\(i)"))
            #expect(response.status == .accepted)
            #expect(String(decoding: response.body, as: UTF8.self) == "later /x\(i)")
        }
        #expect(client.connectionsOpened == 1)
    }

    /// A producer on another thread that writes the next piece only when the writer says
    /// the connection drained (`whenReady`).
    final class Producer: Sendable {
        let writer: HTTPChunkedWriter
        let content: [UInt8]
        let piece: Int
        let sent = AtomicCounter()

        init(_ writer: HTTPChunkedWriter, content: [UInt8], piece: Int) {
            self.writer = writer
            self.content = content
            self.piece = piece
        }

        func next() {
            let offset = sent.load
            guard offset < content.count, !writer.isConnectionClosed else { return writer.finish() }
            let count = min(piece, content.count - offset)
            sent.add(count)
            let bytes = Array(content[offset..<offset + count])
            onOtherThread { self.writer.write(bytes) { self.next() } }
        }
    }

    @Test func aStreamedChunkedResponseOfSeveralMegabytesArrivesIntactWithBackpressure() throws {
        let content = pattern(6 * 1024 * 1024 + 123, seed: 3)
        let rig = try HTTPRig { _, responder in
            let writer = responder.startChunked(headers: ["Content-Type": "application/octet-stream"])
            Producer(writer, content: content, piece: 256 * 1024).next()
        }
        defer { rig.stop() }
        let client = rig.client()
        var received: [UInt8] = []
        var chunks = 0
        let response = try client.send(HTTPClientRequest(path: "/export")) { chunk in
            received += chunk
            chunks += 1
        }
        #expect(response.status == .ok)
        #expect(response.headers["transfer-encoding"] == "chunked")
        #expect(response.headers["content-type"] == "application/octet-stream")
        #expect(received.count == content.count)
        #expect(received == content)
        #expect(chunks > 1)
        // The buffered variant decodes chunks too, on the same kept-alive connection.
        let again = try client.send(HTTPClientRequest(path: "/export"))
        #expect(again.body == content)
        #expect(client.connectionsOpened == 1)
    }

    @Test func aMalformedRequestGetsItsStatusAsJSONAndTheConnectionCloses() throws {
        let rig = try HTTPRig(limits: HTTPLimits(bodyBytesMax: 100), handler: echoHandler)
        defer { rig.stop() }
        let cases: [(String, String, String)] = [
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400", "bad_request"),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", "413", "body_too_large"),
            ("GET / HTTP/3.0\r\nHost: h\r\n\r\n", "505", "http_version_not_supported"),
        ]
        for (input, status, code) in cases {
            let socket = try BlockingClient(port: rig.server.port)
            try socket.send(Array(input.utf8))
            let reply = String(decoding: try socket.receive(1 << 16), as: UTF8.self)  // to EOF: it closes
            #expect(reply.hasPrefix("HTTP/1.1 \(status) "), "\(reply)")
            #expect(reply.contains("Connection: close\r\n"))
            #expect(reply.contains("{\"error\":{\"code\":\"\(code)\",\"message\":\""))
        }
        #expect(rig.server.statistics.rejectedRequests.load == 3)
        #expect(eventually { rig.server.statistics.openConnections.load == 0 })
    }

    @Test func aSilentConnectionAndAStalledHeadAreAnswered408AndClosed() throws {
        let limits = HTTPLimits(headerTimeoutNanos: 150_000_000)
        let rig = try HTTPRig(limits: limits, handler: echoHandler)
        defer { rig.stop() }
        let silent = try BlockingClient(port: rig.server.port, timeoutSeconds: 10)
        let stalled = try BlockingClient(port: rig.server.port, timeoutSeconds: 10)
        try stalled.send(Array("GET / HTTP/1.1\r\nHost: h\r\n".utf8))
        for socket in [silent, stalled] {
            let reply = String(decoding: try socket.receive(1 << 16), as: UTF8.self)  // returns at EOF
            #expect(reply.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(reply)")
            #expect(reply.contains("request_timeout"))
        }
        #expect(rig.server.statistics.headerTimeouts.load == 2)
        #expect(eventually { rig.server.statistics.openConnections.load == 0 })
    }

    @Test func anIdleKeptAliveConnectionIsClosedAndTheClientReconnects() throws {
        let limits = HTTPLimits(idleTimeoutNanos: 100_000_000)
        let rig = try HTTPRig(limits: limits, handler: echoHandler)
        defer { rig.stop() }
        let client = rig.client()
        _ = try client.send(HTTPClientRequest(path: "/one"))
        #expect(eventually { rig.server.statistics.openConnections.load == 0 })
        let second = try client.send(HTTPClientRequest(path: "/two"))
        #expect(String(decoding: second.body, as: UTF8.self).hasPrefix("GET /two "))
        #expect(client.connectionsOpened == 2)
    }

    @Test func aHandlerThatDropsItsResponderProducesA500AndTheConnectionCloses() throws {
        let rig = try HTTPRig { request, responder in
            if request.path == "/later" { onOtherThread { _ = responder } }  // dropped on another thread
        }
        defer { rig.stop() }
        for path in ["/now", "/later"] {
            let client = rig.client()
            let response = try client.send(HTTPClientRequest(path: path))
            #expect(response.status == .internalServerError)
            #expect(response.headers["connection"] == "close")
            #expect(String(decoding: response.body, as: UTF8.self).contains("\"code\":\"internal\""))
        }
        #expect(eventually { rig.server.statistics.openConnections.load == 0 })
    }

    @Test func aChunkedRequestBodyReachesTheHandler() throws {
        let rig = try HTTPRig(handler: echoHandler)
        defer { rig.stop() }
        let socket = try BlockingClient(port: rig.server.port)
        try socket.send(Array(
            "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8))
        let reply = String(decoding: try socket.receive(1 << 16), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("X-Body: hello\r\n"))
        #expect(reply.contains("POST /up [] 5 none"))
    }

    @Test func anHTTP10RequestIsAnsweredAndClosed() throws {
        let rig = try HTTPRig(handler: echoHandler)
        defer { rig.stop() }
        let socket = try BlockingClient(port: rig.server.port)
        try socket.send(Array("GET /old HTTP/1.0\r\n\r\n".utf8))
        let reply = String(decoding: try socket.receive(1 << 16), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("Connection: close\r\n"))
        #expect(reply.contains("GET /old [] 0 none"))
    }
}

/// Connections from a trusted load balancer start with a PROXY v2 header.
@Suite("HTTP server behind a PROXY protocol load balancer", .serialized)
struct HTTPServerProxyProtocolTests {
    let header = ProxyProtocolV2.header(source: (0xCB00_7107, 4242), destination: (0x7F00_0001, 443))
    let request = Array("GET /who HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".utf8)

    @Test func aTrustedPeersHeaderNamesTheClientEvenWhenItArrivesInPieces() throws {
        let rig = try HTTPRig(proxyProtocolFrom: { $0 == "127.0.0.1" }, handler: echoHandler)
        defer { rig.stop() }
        let whole = try BlockingClient(port: rig.server.port)
        try whole.send(header + request)
        #expect(String(decoding: try whole.receive(1 << 16), as: UTF8.self).contains("GET /who [] 0 none 203.0.113.7:4242"))
        // The header split mid-way and the request sent only after it: nothing more is read
        // than the header, and the request that follows is parsed from its first byte.
        let pieces = try BlockingClient(port: rig.server.port)
        try pieces.send(Array(header.prefix(9)))
        usleep(20_000)  // lets the server see the first piece alone (no correctness depends on it)
        try pieces.send(Array(header.dropFirst(9)))
        try pieces.send(request)
        #expect(String(decoding: try pieces.receive(1 << 16), as: UTF8.self).contains("203.0.113.7:4242"))
        // A LOCAL header (a health check) keeps the socket's peer.
        let check = try BlockingClient(port: rig.server.port)
        try check.send(ProxyProtocolV2.signature + [0x20, 0x00, 0x00, 0x00] + request)
        #expect(String(decoding: try check.receive(1 << 16), as: UTF8.self).contains("none 127.0.0.1:"))
    }

    @Test func aTrustedPeerWithoutAHeaderIsCutAndAnUntrustedOneIsNotBelieved() throws {
        let trusted = try HTTPRig(proxyProtocolFrom: { _ in true }, handler: echoHandler)
        defer { trusted.stop() }
        let bare = try BlockingClient(port: trusted.server.port)
        try bare.send(request)
        #expect(try bare.receive(1 << 16).isEmpty)  // closed without an answer
        #expect(eventually { trusted.server.statistics.proxyHeaderFailures.load == 1 })

        // Nobody trusted (the default): a header is just bytes that are not HTTP.
        let untrusted = try HTTPRig(handler: echoHandler)
        defer { untrusted.stop() }
        let forged = try BlockingClient(port: untrusted.server.port)
        try forged.send(header + request)
        let reply = String(decoding: try forged.receive(1 << 16), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 400 ") && !reply.contains("203.0.113.7"), "\(reply)")
    }

    @Test func aTrustedPeerThatNeverSendsTheHeaderIsCutAtTheHandshakeTimeout() throws {
        let rig = try HTTPRig(
            connectionLimits: ConnectionLimits(handshakeTimeoutNanos: 100_000_000), proxyProtocolFrom: { _ in true },
            handler: echoHandler)
        defer { rig.stop() }
        let silent = try BlockingClient(port: rig.server.port, timeoutSeconds: 10)
        #expect(try silent.receive(1 << 16).isEmpty)
        #expect(rig.server.statistics.proxyHeaderFailures.load == 1)
    }
}
