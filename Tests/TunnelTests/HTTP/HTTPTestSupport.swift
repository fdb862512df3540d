#if canImport(Glibc)
import Glibc
#endif
import Dispatch
@testable import Tunnel

/// An HTTP server on its own event loop group, for loopback tests.
final class HTTPRig {
    let group: EventLoopGroup
    let server: HTTPServer

    init(
        tls: TLSContextProvider? = nil, limits: HTTPLimits = .init(), connectionLimits: ConnectionLimits = .init(),
        loops: Int = 2, proxyProtocolFrom: (@Sendable (String) -> Bool)? = nil, handler: @escaping HTTPServer.Handler
    ) throws {
        group = try EventLoopGroup(loopCount: loops)
        server = try HTTPServer(
            configuration: .init(
                listen: try SocketAddress(parsing: "127.0.0.1:0"), tls: tls, limits: limits,
                connectionLimits: connectionLimits, proxyProtocolFrom: proxyProtocolFrom),
            group: group, handler: handler)
    }

    func client(tls: TLSContext? = nil, serverName: String? = nil, timeoutMillis: Int = 10_000) -> HTTPClient {
        HTTPClient(host: "127.0.0.1", port: server.port, tls: tls, serverName: serverName, timeoutMillis: timeoutMillis)
    }

    func stop() {
        server.stop()
        group.shutdown()
    }
}

/// Echoes what the server saw as a small text report: method, path, query, body, peer.
let echoHandler: HTTPServer.Handler = { request, responder in
    let query = request.query.keys.sorted().map { "\($0)=\(request.query[$0]!)" }.joined(separator: "&")
    let cert = request.clientCertificate.map { "\($0.serialHex) \($0.role?.rawValue ?? "-")" } ?? "none"
    let text = "\(request.method) \(request.path) [\(query)] \(request.body.count) \(cert) \(request.remoteAddress)"
    var response = HTTPResponse.text(text)
    response.headers.add(name: "X-Body", value: String(decoding: request.body.prefix(64), as: UTF8.self))
    responder.respond(response)
}

/// Runs `body` on a thread that is not an event loop, after `delayMillis`.
func onOtherThread(afterMillis delayMillis: Int = 0, _ body: @escaping @Sendable () -> Void) {
    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delayMillis), execute: body)
}
