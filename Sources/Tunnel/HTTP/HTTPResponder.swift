internal import Synchronization

/// Answers one request, exactly once: `respond` with a whole response, or
/// `startChunked` and then a stream of writes ending in `finish()`.
///
/// Threading: every method is safe from any thread. Off the connection's loop the call
/// hops onto it (`EventLoop.execute`); on the loop it acts at once. Answering twice is a
/// programmer error (precondition). If the connection closed meanwhile, the answer is
/// dropped.
public final class HTTPResponder: Sendable {
    enum Phase: Sendable { case awaiting, streaming, done }

    let loop: EventLoop
    // Safe: `owner` is a loop-bound object; it is only dereferenced inside `onLoop`,
    // which runs on `loop`'s thread (checked by `assertInEventLoop` there).
    nonisolated(unsafe) private let owner: HTTPServerConnection
    let isHead: Bool
    let version: HTTPRequest.Version
    let closeAfterResponse: Bool
    private let phase = Mutex(Phase.awaiting)
    private let closed = Atomic<Bool>(false)

    init(loop: EventLoop, owner: HTTPServerConnection, isHead: Bool, version: HTTPRequest.Version,
         closeAfterResponse: Bool) {
        self.loop = loop
        self.owner = owner
        self.isHead = isHead
        self.version = version
        self.closeAfterResponse = closeAfterResponse
    }

    /// A handler that let go of its responder without answering gets a 500 (and an
    /// unfinished stream is cut off), then the connection closes: it never waits for an
    /// answer that cannot come.
    deinit {
        let abandoned = phase.withLock { $0 }
        guard abandoned != .done else { return }
        let owner = LoopBoundOwner(owner: owner)
        let response = HTTPResponse.error(
            .internalServerError, code: "internal", message: "the request handler returned no response")
        let body: @Sendable () -> Void = {
            if abandoned == .awaiting {
                owner.owner.write(response.serialized(closing: true))
                owner.owner.responseComplete(closing: true)
            } else {
                owner.owner.closeNow()  // a chunked body without its last chunk: the client sees it cut
            }
        }
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// True once the connection closed; later writes are dropped.
    public var isConnectionClosed: Bool { closed.load(ordering: .acquiring) }

    /// Sends `response` (its body with a Content-Length; no body for HEAD, 1xx, 204, 304).
    public func respond(_ response: HTTPResponse) {
        transition(from: .awaiting, to: .done, "respond")
        let closing = closeAfterResponse
        let omitBody = isHead
        onLoop { owner in
            // A server stopping gracefully says so in the response it still gives.
            let closing = closing || owner.draining
            owner.write(response.serialized(closing: closing, omittingBody: omitBody))
            owner.responseComplete(closing: closing)
        }
    }

    /// Sends the head of a streamed response and returns the writer for its body:
    /// chunked for HTTP/1.1; for HTTP/1.0 the raw body, ended by closing the connection.
    public func startChunked(status: HTTPStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPChunkedWriter {
        transition(from: .awaiting, to: .streaming, "startChunked")
        let chunked = version == .http1_1
        let closing = closeAfterResponse || !chunked
        var framing: [(name: String, value: String)] = []
        if chunked && status.allowsBody { framing.append((name: "Transfer-Encoding", value: "chunked")) }
        if closing { framing.append((name: "Connection", value: "close")) }
        let head = HTTPWire.head(status: status, headers: headers, framing: framing)
        onLoop { owner in owner.write(head) }
        return HTTPChunkedWriter(responder: self, chunked: chunked && status.allowsBody,
                                 dropsBody: isHead || !status.allowsBody, closing: closing)
    }

    // MARK: internal

    /// Answers with `head` (a 101) and hands the connection to another protocol: see
    /// `HTTPServerConnection.upgrade(head:start:)`. `start` runs on the loop.
    func upgrade(head: [UInt8], start: @escaping @Sendable (Connection, [UInt8], @escaping () -> Void) -> Void) {
        transition(from: .awaiting, to: .done, "upgrade")
        onLoop { owner in owner.upgrade(head: head, start: start) }
    }

    /// Runs `body` with the connection on its loop: now when already there, else soon.
    /// The connection may have closed; its methods then drop writes (and `whenDrained`
    /// still calls its waiter, so a producer never waits forever).
    /// Runs `body` on the connection's event loop (at once when already there). For work
    /// that belongs with the answer — decoding a result, encoding the body — so it leaves
    /// whichever thread completed the request (the Raft loop).
    public func execute(_ body: @escaping @Sendable () -> Void) {
        onLoop { _ in body() }
    }

    func onLoop(_ body: @escaping @Sendable (HTTPServerConnection) -> Void) {
        if loop.inEventLoop {
            body(owner)
        } else {
            loop.execute { [self] in
                self.loop.assertInEventLoop()
                body(self.owner)
            }
        }
    }

    func transition(from expected: Phase, to next: Phase, _ what: String) {
        let ok = phase.withLock { current -> Bool in
            guard current == expected else { return false }
            current = next
            return true
        }
        precondition(ok, "HTTPResponder.\(what) called after the response was already started or sent")
    }

    /// Called by the connection (on its loop) when it closes.
    func connectionClosed() { closed.store(true, ordering: .releasing) }
}

/// The body of a streamed response. Obtain one from `HTTPResponder.startChunked`.
///
/// Threading: safe from any thread, like the responder. Writes are sent in call order.
/// Backpressure: `write` never refuses bytes, so a producer of a large body should write
/// the next piece only from `whenReady`, which fires once the connection's pending
/// output is below its low watermark; the output held per connection then stays near
/// the high watermark plus one piece.
public final class HTTPChunkedWriter: Sendable {
    private let responder: HTTPResponder
    private let chunked: Bool
    private let dropsBody: Bool
    private let closing: Bool
    private let finished = Atomic<Bool>(false)

    init(responder: HTTPResponder, chunked: Bool, dropsBody: Bool, closing: Bool) {
        self.responder = responder
        self.chunked = chunked
        self.dropsBody = dropsBody
        self.closing = closing
    }

    /// True once the connection closed: stop producing (writes are dropped).
    public var isConnectionClosed: Bool { responder.isConnectionClosed }

    /// Sends `bytes` as one chunk (an empty array sends nothing), then calls `whenReady`
    /// on the connection's loop once the output has drained below the low watermark —
    /// or when the connection has closed (check `isConnectionClosed`).
    public func write(_ bytes: [UInt8], whenReady: @escaping @Sendable () -> Void = {}) {
        precondition(!finished.load(ordering: .relaxed), "HTTPChunkedWriter.write after finish()")
        let framed = frame(bytes)
        responder.onLoop { owner in
            owner.write(framed)
            owner.whenDrained(whenReady)
        }
    }

    /// Ends the body (the last chunk, or the connection's close for HTTP/1.0).
    public func finish() {
        let (exchanged, _) = finished.compareExchange(expected: false, desired: true, ordering: .relaxed)
        precondition(exchanged, "HTTPChunkedWriter.finish called twice")
        let last: [UInt8] = chunked ? Array("0\r\n\r\n".utf8) : []
        let closing = closing
        responder.transition(from: .streaming, to: .done, "finish")
        responder.onLoop { owner in
            owner.write(last)
            owner.responseComplete(closing: closing)
        }
    }

    /// `SIZE-HEX CRLF bytes CRLF`, the raw bytes for HTTP/1.0, nothing for HEAD.
    private func frame(_ bytes: [UInt8]) -> [UInt8] {
        guard !dropsBody, !bytes.isEmpty else { return [] }
        guard chunked else { return bytes }
        var out = Array(String(bytes.count, radix: 16).utf8) + HTTPWire.crlf
        out.reserveCapacity(out.count + bytes.count + 2)
        out += bytes
        out += HTTPWire.crlf
        return out
    }
}

/// Carries the loop-bound connection out of a deinit to its loop.
// Safe: `owner` is dereferenced only in closures that run on its loop (see `HTTPResponder.onLoop`).
private struct LoopBoundOwner: @unchecked Sendable {
    let owner: HTTPServerConnection
}
