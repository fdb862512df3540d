#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@testable import Tunnel

/// The HTTP server and client over TLS with certificates from the test CA, and the
/// client's error messages.
@Suite("HTTP over TLS and client errors", .serialized)
struct HTTPTLSTests {
    /// A server with an optional client certificate, and the CA that issued everything.
    static func tlsRig(clientAuth: TLSConfiguration.ClientAuth = .optional, handler: @escaping HTTPServer.Handler = echoHandler)
        throws -> (HTTPRig, CertificateAuthority)
    {
        let ca = try makeTLSCA()
        let server = try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca, clientAuth: clientAuth)
        return (try HTTPRig(tls: TLSContextProvider(server), handler: handler), ca)
    }

    @Test func theHandlerSeesTheClientCertificateWhenOneIsSentAndNoneOtherwise() throws {
        let (rig, ca) = try Self.tlsRig()
        defer { rig.stop() }
        let connector = try issueIdentity(from: ca, name: "c1", role: .connector, dnsNames: [], ipAddresses: [])
        let withCert = rig.client(tls: try clientContext(connector, trusting: ca))
        for _ in 0..<2 {
            let response = try withCert.send(HTTPClientRequest(path: "/whoami"))
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains(" \(connector.certificate.serialHex) connector "), "\(text)")
        }
        #expect(withCert.connectionsOpened == 1)

        let anonymous = rig.client(tls: try clientContext(nil, trusting: ca))
        let response = try anonymous.send(HTTPClientRequest(method: "POST", path: "/enrol", body: Array("csr".utf8)))
        #expect(String(decoding: response.body, as: UTF8.self).hasPrefix("POST /enrol [] 3 none "))
        #expect(rig.server.statistics.accepted.load == 2)
    }

    @Test func aStreamedResponseCrossesTLSIntact() throws {
        let content = pattern(3 * 1024 * 1024, seed: 11)
        let (rig, ca) = try Self.tlsRig { _, responder in
            HTTPServerTests.Producer(responder.startChunked(), content: content, piece: 200_000).next()
        }
        defer { rig.stop() }
        let client = rig.client(tls: try clientContext(nil, trusting: ca))
        let response = try client.send(HTTPClientRequest(path: "/export"))
        #expect(response.body == content)
        let small = try client.send(HTTPClientRequest(path: "/export"))
        #expect(small.body.count == content.count)
        #expect(client.connectionsOpened == 1)
    }

    @Test func aClientThatDoesNotTrustTheServerFailsWithTheHandshakeReason() throws {
        let (rig, _) = try Self.tlsRig()
        defer { rig.stop() }
        let stranger = try makeTLSCA("Other CA")
        let client = rig.client(tls: try clientContext(nil, trusting: stranger))
        #expect {
            _ = try client.send(HTTPClientRequest(path: "/"))
        } throws: { error in
            guard let error = error as? HTTPClientError else { return false }
            return error.code == .tls && error.message.hasPrefix("TLS handshake with 127.0.0.1:\(rig.server.port): ")
        }
    }

    @Test func aServerRequiringACertificateRefusesAClientWithout() throws {
        let (rig, ca) = try Self.tlsRig(clientAuth: .required)
        defer { rig.stop() }
        let client = rig.client(tls: try clientContext(nil, trusting: ca))
        // TLS 1.3: the client finishes its handshake first; the refusal arrives as an alert.
        #expect {
            _ = try client.send(HTTPClientRequest(path: "/"))
        } throws: { error in
            guard let error = error as? HTTPClientError else { return false }
            return error.code == .tls && error.message.contains("certificate required")
        }
    }

    @Test func connectRefusedNamesTheAddress() throws {
        // A port that was just free: bind, learn it, close.
        let rig = try HTTPRig(loops: 1, handler: echoHandler)
        let port = rig.server.port
        rig.stop()
        let client = HTTPClient(host: "127.0.0.1", port: port, timeoutMillis: 2_000)
        #expect {
            _ = try client.send(HTTPClientRequest(path: "/"))
        } throws: { error in
            (error as? HTTPClientError)?.description == "connect refused to 127.0.0.1:\(port)"
        }
    }

    @Test func aServerThatNeverAnswersTimesOutWithTheWait() throws {
        let held = Mutex<[HTTPResponder]>([])
        let rig = try HTTPRig { _, responder in held.withLock { $0.append(responder) } }  // never answers
        defer { rig.stop() }
        let client = rig.client(timeoutMillis: 150)
        #expect {
            _ = try client.send(HTTPClientRequest(path: "/"))
        } throws: { error in
            guard let error = error as? HTTPClientError else { return false }
            return error.code == .timeout && error.message.hasPrefix("timeout after 150 ms waiting for the response head")
        }
    }

    @Test func aMalformedResponseIsReportedAsSuch() throws {
        // A "server" that answers anything with garbage: the HTTP server's listener is
        // not needed, a raw echo of a bad status line is enough.
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let echo = try EchoServer(group: group)
        defer { echo.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: echo.port, timeoutMillis: 2_000)
        // The echo server sends our own request line back: not a status line.
        #expect {
            _ = try client.send(HTTPClientRequest(path: "/"))
        } throws: { error in
            guard let error = error as? HTTPClientError else { return false }
            return error.code == .malformedResponse && error.message.contains("bad status line 'GET / HTTP/1.1'")
        }
    }
}
