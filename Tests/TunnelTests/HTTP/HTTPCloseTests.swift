#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@testable import Tunnel

/// How the server closes kept-alive TLS connections and what the client does when a
/// request meets such a close: resent only when that cannot apply it twice.
@Suite("HTTP closes over TLS and resending", .serialized)
struct HTTPCloseTests {
    /// A TLS rig (server certificate from a fresh CA), a client context trusting it.
    static func rig(limits: HTTPLimits = .init(), handler: @escaping HTTPServer.Handler) throws -> (HTTPRig, TLSContext) {
        let ca = try makeTLSCA()
        let server = try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca, clientAuth: .optional)
        return (try HTTPRig(tls: TLSContextProvider(server), limits: limits, handler: handler), try clientContext(nil, trusting: ca))
    }

    /// One blocking TLS connection to the rig, below `HTTPClient`, to see exactly how the
    /// server ends it.
    static func transport(_ rig: HTTPRig, _ tls: TLSContext) throws -> HTTPClientTransport {
        try HTTPClientTransport(
            address: try SocketAddress(parsing: "127.0.0.1:\(rig.server.port)"), peer: "127.0.0.1:\(rig.server.port)",
            tls: tls, serverName: "127.0.0.1", timeoutMillis: 5_000)
    }

    /// Reads until the server ends the connection, or until what was read ends with
    /// `suffix`; returns everything read.
    static func readToEnd(_ transport: HTTPClientTransport, orUntil suffix: String? = nil) throws -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try transport.read(into: $0, "the test read") }
            if n == 0 { return String(decoding: out, as: UTF8.self) }
            out += buffer[0..<n]
            if let suffix, String(decoding: out, as: UTF8.self).hasSuffix(suffix) {
                return String(decoding: out, as: UTF8.self)
            }
        }
    }

    @Test func anIdleKeptAliveConnectionIsClosedWithCloseNotify() throws {
        let (rig, tls) = try Self.rig(limits: HTTPLimits(idleTimeoutNanos: 50_000_000), handler: echoHandler)
        defer { rig.stop() }
        let transport = try Self.transport(rig, tls)
        defer { transport.close() }
        try transport.write(Array("GET /one HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        // The response, then — once the idle timeout fired — the end of the stream.
        let text = try Self.readToEnd(transport)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
        #expect(transport.receivedCloseNotify, "an idle close must be clean (close_notify), not a bare close")
    }

    @Test func aPostMetByACleanCloseIsSentAgainOnANewConnection() throws {
        let posts = Atomic<Int>(0)
        let (rig, tls) = try Self.rig { request, responder in
            guard request.method == "POST" else { return responder.respond(.text("ok")) }
            if posts.add(1, ordering: .relaxed).newValue == 1 {
                // What the idle timer does when the request crosses it: close_notify and FIN,
                // no answer (this test server read the request, which Warren's never does).
                responder.onLoop { $0.connection.shutdownWrite() }
            } else {
                responder.respond(.text("applied"))
            }
        }
        defer { rig.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: rig.server.port, tls: tls, serverName: "127.0.0.1")
        _ = try client.send(HTTPClientRequest(path: "/warm"))
        let response = try client.send(HTTPClientRequest(method: "POST", path: "/change", body: Array("x".utf8)))
        #expect(String(decoding: response.body, as: UTF8.self) == "applied")
        #expect(posts.load(ordering: .relaxed) == 2)
        #expect(client.connectionsOpened == 2)
    }

    @Test func aPostMetByAnAbruptCloseIsNotSentAgainButAGetIs() throws {
        let requests = Mutex<[String]>([])
        let (rig, tls) = try Self.rig { request, responder in
            let n = requests.withLock { seen in
                seen.append("\(request.method) \(request.path)")
                return seen.filter { $0 == "\(request.method) \(request.path)" }.count
            }
            if request.path == "/warm" || n > 1 { return responder.respond(.text("ok")) }
            // The request was read (and could have been applied); the connection is cut with
            // no close_notify, as when a node stops or a load balancer drops it.
            responder.onLoop { $0.closeNow() }
        }
        defer { rig.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: rig.server.port, tls: tls, serverName: "127.0.0.1")
        _ = try client.send(HTTPClientRequest(path: "/warm"))
        #expect {
            _ = try client.send(HTTPClientRequest(method: "POST", path: "/change", body: Array("x".utf8)))
        } throws: { error in
            guard let error = error as? HTTPClientError else { return false }
            return error.code == .io && error.message.contains("connection closed before a response")
        }
        #expect(requests.withLock { $0 } == ["GET /warm", "POST /change"], "the POST must not be sent twice")

        _ = try client.send(HTTPClientRequest(path: "/warm"))
        let read = try client.send(HTTPClientRequest(path: "/read"))
        #expect(String(decoding: read.body, as: UTF8.self) == "ok", "a GET is safe to send again")
        #expect(requests.withLock { $0.filter { $0 == "GET /read" }.count } == 2)
    }

    @Test func aGracefulStopAnswersTheRequestInProgressAndClosesIdleConnectionsCleanly() throws {
        let held = Mutex<HTTPResponder?>(nil)
        let (rig, tls) = try Self.rig { request, responder in
            if request.path == "/slow" { held.withLock { $0 = responder } } else { responder.respond(.text("ok")) }
        }
        let idle = try Self.transport(rig, tls)
        defer { idle.close() }
        try idle.write(Array("GET /first HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        let first = try Self.readToEnd(idle, orUntil: "\r\n\r\nok")  // answered: idle from here on
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(first)")
        let answer = Mutex<Result<HTTPClientResponse, HTTPClientError>?>(nil)
        let server = rig.server
        onOtherThread {
            let busy = HTTPClient(host: "127.0.0.1", port: server.port, tls: tls, serverName: "127.0.0.1")
            let result = Result { () throws(HTTPClientError) in try busy.send(HTTPClientRequest(method: "POST", path: "/slow")) }
            answer.withLock { $0 = result }
        }
        #expect(eventually { held.withLock { $0 != nil } })
        // Marks every loop's connections before anything is answered (stop would do it
        // too, loop by loop, racing the answer below).
        server.beginGracefulStop()
        let stopped = Atomic<Bool>(false)
        onOtherThread {
            server.stop(graceMillis: 10_000)
            stopped.store(true, ordering: .releasing)
        }
        // The idle connection is closed cleanly while the request is still in progress.
        let rest = try Self.readToEnd(idle)
        #expect(rest.isEmpty, "\(rest)")
        #expect(idle.receivedCloseNotify)
        let stoppedEarly = stopped.load(ordering: .acquiring)
        #expect(!stoppedEarly, "stop waits for the request in progress")
        held.withLock { $0 }?.respond(.text("done"))
        #expect(eventually { stopped.load(ordering: .acquiring) && answer.withLock { $0 != nil } })
        let response = try #require(try answer.withLock { $0 }?.get())
        #expect(String(decoding: response.body, as: UTF8.self) == "done")
        #expect(response.headers["connection"] == "close")
        rig.group.shutdown()
    }
}
