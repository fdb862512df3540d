/// The server side of the opening handshake: an HTTP handler turns its request into a
/// WebSocket on the same connection (TLS session and client certificate included).
extension HTTPResponder {
    /// Checks `request` as a WebSocket upgrade (`WebSocketHandshake.validate`). When it
    /// passes, sends the 101 and, on the connection's loop, calls `handler` with the new
    /// `WebSocketChannel` — set its callbacks there: bytes that arrived with the request
    /// are decoded at the end of that event. When it fails, answers with the refusal
    /// (400, 405 or 426; the connection stays HTTP) and returns it.
    ///
    /// With `protocol` set (`WebSocketHandshake.muxProtocol`), the client must offer it.
    /// This answers the request, like `respond`: callable once, from any thread. If the
    /// connection closed before the answer reached its loop, `handler` is never called.
    /// Authorize first (`request.clientCertificate`), then upgrade.
    @discardableResult
    public func upgradeToWebSocket(
        _ request: HTTPRequest, protocol wanted: String? = nil, configuration: WebSocketConfiguration = .init(),
        handler: @escaping @Sendable (WebSocketChannel) -> Void
    ) -> HTTPResponse? {
        switch WebSocketHandshake.validate(request, protocol: wanted) {
        case .reject(let response):
            respond(response)
            return response
        case .accept(let accept, let selected):
            let head = WebSocketHandshake.response101(accept: accept, protocol: selected)
            let remote = request.remoteAddress
            upgrade(head: head) { connection, buffered, closed in
                let channel = WebSocketChannel(
                    connection: connection, side: .server, configuration: configuration, subprotocol: selected,
                    remoteAddress: remote, onConnectionClosed: closed)
                handler(channel)
                channel.start(buffered: buffered)
            }
            return nil
        }
    }
}
