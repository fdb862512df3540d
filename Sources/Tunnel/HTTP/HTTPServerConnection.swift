/// The HTTP/1.1 side of one accepted connection: parses requests, calls the handler one
/// request at a time, writes responses, and runs the header, idle and linger timers.
/// Loop thread only.
///
/// States: `reading` (parsing; header timer armed from accept or from the first byte
/// of a request, idle timer between requests) → `handling` (reading paused, a responder
/// outstanding) → back to `reading`, or → `closing` (write side shut, reads discarded,
/// closed once output drained or the peer closes) → closed.
///
/// Upgrade hand-off (`upgrade(head:start:)`): from `handling` to `upgraded`, in which
/// this object no longer parses and `connection.delegate` belongs to the new protocol
/// (a WebSocket), which reports the close back so the server's accounting stays right.
///
/// Clean closes (TLS close_notify, then FIN) and what they promise: the server closes a
/// kept-alive connection between requests (idle timeout, graceful stop) only cleanly, and
/// from `closing` on it never parses another byte. So a client that sees close_notify
/// before any byte of a response knows its request was not acted on and may send it again
/// on a new connection, whatever the method (`HTTPClient` does). A connection with a
/// request in progress is never closed cleanly before its response: it is answered, or
/// (server stopped without grace, client gone) cut off without close_notify.
final class HTTPServerConnection: ConnectionDelegate {
    private enum Phase { case reading, handling, closing, upgraded, closed }

    let connection: Connection
    private let shared: HTTPServerShared
    private let remoteAddress: String
    private let onClose: (HTTPServerConnection) -> Void
    private var parser: HTTPRequestParser
    private var phase = Phase.reading
    private var clientCertificate: Certificate?
    /// The outstanding responder while `handling` (weak: a handler that drops it gets
    /// a 500 from its deinit). Invariant: nil in every other phase.
    private weak var responder: HTTPResponder?
    private var peerClosed = false
    /// The server is stopping gracefully: close after the response in progress, if any.
    private(set) var draining = false
    private var headerTimer: TimerHandle?
    private var idleTimer: TimerHandle?
    private var lingerTimer: TimerHandle?
    /// Producers waiting for the output to drain (`HTTPChunkedWriter.write`).
    private var drainWaiters: [@Sendable () -> Void] = []

    /// How long a closing connection waits between checks that its output drained.
    static let lingerCheckNanos: UInt64 = 1_000_000_000

    init(connection: Connection, shared: HTTPServerShared, remoteAddress: String,
         onClose: @escaping (HTTPServerConnection) -> Void) {
        self.connection = connection
        self.shared = shared
        self.remoteAddress = remoteAddress
        self.onClose = onClose
        parser = HTTPRequestParser(limits: shared.configuration.limits)
    }

    var loop: EventLoop { connection.loop }

    func start() throws {
        connection.delegate = self
        armHeaderTimer()
        try connection.start()
    }

    /// Closes at once, dropping unsent output (server stop).
    func closeNow() { connection.close() }

    /// Graceful stop: an idle connection closes cleanly now; one with a request in progress
    /// answers it (with `Connection: close`) and then closes. An upgraded one (a WebSocket)
    /// belongs to its protocol, which says goodbye its own way: `stop()` closes it.
    func drain() {
        draining = true
        switch phase {
        case .reading where !parser.isMidRequest: beginClosing()
        case .reading, .handling, .closing, .upgraded, .closed: break
        }
    }

    /// True while the graceful stop should wait for this connection: a request in
    /// progress, or a response still being flushed before the clean close.
    var isBusy: Bool {
        switch phase {
        case .handling: true
        case .reading: parser.isMidRequest
        case .closing: connection.pendingBytes > 0
        case .upgraded, .closed: false
        }
    }

    // MARK: ConnectionDelegate

    func connectionDidBecomeActive(_ connection: Connection) {
        clientCertificate = connection.tls?.peerCertificate
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard phase != .closing, phase != .closed else { return }  // closing: discard
        parser.append(bytes)
        if phase == .reading { processBuffered() }
    }

    func connectionDidReadEOF(_ connection: Connection) {
        peerClosed = true
        switch phase {
        case .reading:
            // Between requests a FIN is the client's goodbye; mid-request it is an abort.
            if parser.isMidRequest { connection.close() } else { beginClosing() }
        case .handling: break  // answer first, then close (closeAfterResponse below)
        case .closing: connection.close()
        case .upgraded, .closed: break
        }
    }

    func connectionDidDrain(_ connection: Connection) {
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter() }
    }

    func connection(_ connection: Connection, didCloseWith error: (any Error)?) {
        phase = .closed
        headerTimer?.cancel()
        idleTimer?.cancel()
        lingerTimer?.cancel()
        responder?.connectionClosed()
        responder = nil
        // A producer waiting for a drain that will never come learns of the close now.
        connectionDidDrain(connection)
        shared.statistics.openConnections.decrement()
        onClose(self)
    }

    // MARK: requests

    /// Parses the next buffered request and hands it to the handler, or arms the timer
    /// for what is still missing.
    private func processBuffered() {
        guard phase == .reading else { return }
        switch parser.next() {
        case .request(var request):
            headerTimer?.cancel()
            headerTimer = nil
            idleTimer?.cancel()
            idleTimer = nil
            phase = .handling
            connection.pauseReading()
            request.remoteAddress = remoteAddress
            request.clientCertificate = clientCertificate
            let responder = HTTPResponder(
                loop: loop, owner: self, isHead: request.method == "HEAD", version: request.version,
                closeAfterResponse: !request.keepAlive)
            self.responder = responder
            shared.handler(request, responder)
        case .needMoreData:
            if parser.isReadingHead && parser.isMidRequest && headerTimer == nil { armHeaderTimer() }
            if !parser.isReadingHead {
                // The body is governed by the connection's no-traffic timeout.
                headerTimer?.cancel()
                headerTimer = nil
            }
        case .failed(let error):
            shared.statistics.rejectedRequests.increment()
            reject(error.status, code: Self.errorCode(error.code), message: error.message)
        }
    }

    /// Answers with a JSON error and closes (the framing of what follows is unknown).
    private func reject(_ status: HTTPStatus, code: String, message: String) {
        let response = HTTPResponse.error(status, code: code, message: message)
        write(response.serialized(closing: true))
        beginClosing()
    }

    static func errorCode(_ code: HTTPParseError.Code) -> String {
        switch code {
        case .badRequest: "bad_request"
        case .bodyTooLarge: "body_too_large"
        case .uriTooLong: "uri_too_long"
        case .headersTooLarge: "headers_too_large"
        case .unsupportedTransferEncoding: "not_implemented"
        case .unsupportedVersion: "http_version_not_supported"
        }
    }

    // MARK: called by HTTPResponder / HTTPChunkedWriter (loop thread)

    func write(_ bytes: [UInt8]) {
        guard phase != .closed, !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { connection.write($0) }
    }

    /// Runs `waiter` once output is below the low watermark: at the end of this loop
    /// iteration if it already is (so a producer that writes from `waiter` cannot recurse
    /// or starve the loop), else at the next drain (or close).
    func whenDrained(_ waiter: @escaping @Sendable () -> Void) {
        if connection.isWritable || phase == .closed {
            loop.execute { waiter() }
        } else {
            drainWaiters.append(waiter)
        }
    }

    /// Switches protocols: writes `head` (a 101), stops HTTP processing (timers
    /// cancelled, nothing more parsed) and calls `start` with the connection, the bytes
    /// read past the request, and a callback for the new delegate (which `start` must
    /// install) to call once the connection closed. Does nothing if the connection
    /// closed meanwhile.
    func upgrade(head: [UInt8], start: (Connection, [UInt8], @escaping () -> Void) -> Void) {
        guard phase == .handling else { return }
        phase = .upgraded
        responder = nil
        headerTimer?.cancel()
        idleTimer?.cancel()
        shared.statistics.requestsServed.increment()
        write(head)
        start(connection, parser.takeUnparsedBytes()) { [self] in self.connection(self.connection, didCloseWith: nil) }
    }

    /// The response to the current request is fully handed to the connection.
    func responseComplete(closing: Bool) {
        guard phase == .handling else { return }
        responder = nil
        shared.statistics.requestsServed.increment()
        if closing || peerClosed || draining {
            beginClosing()
            return
        }
        phase = .reading
        connection.resumeReading()
        if parser.isMidRequest { armHeaderTimer() } else { armIdleTimer() }
        // A pipelined request may already be buffered: parse it after this event, so a
        // handler answering at once cannot recurse once per pipelined request.
        loop.deferToEndOfEvent { [weak self] in self?.processBuffered() }
    }

    // MARK: closing and timers

    /// Shuts the write side once output is flushed and discards further input; closes
    /// when the peer closes too, or once the output drained (lingering close, so the
    /// response is not lost to a reset).
    private func beginClosing() {
        guard phase != .closing, phase != .closed else { return }
        phase = .closing
        headerTimer?.cancel()
        idleTimer?.cancel()
        connection.shutdownWrite()
        connection.resumeReading()
        armLingerTimer()
    }

    /// A timer whose body runs at the end of the timer event, outside the timer queue's
    /// firing loop, so it may arm further timers (a re-armed linger check, a 408 that
    /// starts the linger) whatever the queue allows inside a firing body.
    private func after(_ nanos: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        let loop = loop
        return loop.schedule(afterNanos: nanos) { loop.deferToEndOfEvent(body) }
    }

    private func armLingerTimer() {
        lingerTimer = after(Self.lingerCheckNanos) { [weak self] in
            guard let self, self.phase == .closing else { return }
            // Output still moving is bounded by the connection's no-traffic timeout.
            if self.connection.pendingBytes == 0 { self.connection.close() } else { self.armLingerTimer() }
        }
    }

    private func armHeaderTimer() {
        headerTimer?.cancel()
        idleTimer?.cancel()
        idleTimer = nil
        let timeout = shared.configuration.limits.headerTimeoutNanos
        headerTimer = after(timeout) { [weak self] in
            guard let self, self.phase == .reading, self.parser.isReadingHead else { return }
            self.shared.statistics.headerTimeouts.increment()
            self.reject(
                .requestTimeout, code: "request_timeout",
                message: "request head not received within \(timeout / 1_000_000) ms")
        }
    }

    /// Between requests, after `idleTimeoutNanos`: a clean close (close_notify, FIN, then
    /// the lingering close), never a bare close — a client that sends its next request as
    /// the timer fires must be able to tell "not read" from "lost" (see the type's comment).
    private func armIdleTimer() {
        idleTimer?.cancel()
        let timeout = shared.configuration.limits.idleTimeoutNanos
        idleTimer = after(timeout) { [weak self] in
            guard let self, self.phase == .reading, !self.parser.isMidRequest else { return }
            self.beginClosing()
        }
    }
}
