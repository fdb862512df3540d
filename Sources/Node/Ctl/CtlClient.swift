import Foundation
import Tunnel

/// `warren ctl`'s connection to the cluster: a list of servers tried in order, TLS that
/// trusts the cluster CA, and one credential — the admin certificate (`--pki DIR`, which
/// wins) or the token cached by `warren ctl login`.
///
/// Failover: a server is passed over only when nothing was sent to it — it refused the
/// connection, timed out, or failed the TLS handshake — which a `GET /healthz` on the new
/// connection proves before the real request goes out on that same connection. A change
/// (POST, DELETE) that fails after it was sent is never retried elsewhere: it may have
/// applied, and the error says so. Reads (and login) may move on at any point.
///
/// A connection that fails before anything was sent (refused, or closed during the TLS
/// handshake — what a load balancer does for a moment while it has no healthy node, or
/// when it cuts the connections of a node it just marked down) costs nothing to try
/// again: when every server failed that way, the list is tried again after 100, 300, 600
/// and 1,000 ms (2 s in all: a balancer that marked every node down while the cluster
/// elected a leader brings one back within about that). A server that timed out ends
/// that (the next round would only wait again).
///
/// Threading: one thread; every call blocks.
final class CtlClient {
    /// One node's HTTPS address.
    struct Server: Equatable, Sendable {
        var url: String
        var host: String
        var port: UInt16
    }

    /// The local 3-node cluster (`cluster-configs/local-3node`).
    static let defaultServerURLs = ["https://127.0.0.1:7441", "https://127.0.0.1:7442", "https://127.0.0.1:7443"]
    /// Each wait (connect, handshake, read) is bounded by this unless a command sets its own.
    static let defaultTimeoutMillis = 10_000

    let servers: [Server]
    let tls: TLSContext
    /// `Authorization: Bearer` value, when signed in with a token (a secret: never printed).
    private let bearer: String?
    let timeoutMillis: Int
    /// Pauses before each further pass over the servers when every one failed before
    /// anything was sent (see the type's comment).
    var probePausesMillis = [100, 300, 600, 1_000]

    init(servers: [Server], tls: TLSContext, bearer: String?, timeoutMillis: Int = defaultTimeoutMillis) {
        precondition(!servers.isEmpty, "at least one server")
        self.servers = servers
        self.tls = tls
        self.bearer = bearer
        self.timeoutMillis = timeoutMillis
    }

    /// A client for a command: `--pki DIR` (mutual TLS with the admin certificate) wins;
    /// else the saved session (which must not have expired). Servers: `--server`, else the
    /// session's, else the local 3-node defaults.
    static func forCommand(
        _ args: ParsedArguments, timeoutMillis: Int = defaultTimeoutMillis,
        environment: [String: String] = ProcessInfo.processInfo.environment, nowMs: Int64 = CtlTime.nowMillis()
    ) throws -> CtlClient {
        let explicit = try args.servers.isEmpty ? nil : parseServers(args.servers)
        if let dir = args.pki {
            var configuration: TLSConfiguration
            do {
                configuration = try TLSConfiguration.files(
                    certificate: "\(dir)/admin.pem", key: "\(dir)/admin-key.pem", ca: "\(dir)/ca.pem")
                // During a CA rotation the folder's next CA is trusted too (nodes may present either).
                if let next = try? PKIFile.readText("\(dir)/ca-next.pem") {
                    configuration.trustRootsPEM = (configuration.trustRootsPEM ?? "") + "\n" + next
                }
            } catch {
                throw CtlError("cannot use the admin certificate in \(dir): \(error)")
            }
            return CtlClient(
                servers: try explicit ?? parseServers(defaultServerURLs), tls: try context(configuration), bearer: nil,
                timeoutMillis: timeoutMillis)
        }
        let path = try CtlSessionFile.path(environment: environment)
        guard let session = try CtlSessionFile.load(path) else { throw CtlError.notSignedIn("not signed in") }
        guard session.expiresAt > nowMs else {
            throw CtlError.notSignedIn(
                "the session of \(session.user) expired at \(CtlTime.rfc3339(ms: session.expiresAt))")
        }
        let servers = try explicit ?? parseServers(session.servers.isEmpty ? defaultServerURLs : session.servers)
        return CtlClient(
            servers: servers, tls: try trustingCA(session.caFile), bearer: "Bearer \(session.token)",
            timeoutMillis: timeoutMillis)
    }

    /// A client context that trusts the CA in `caFile` and presents no certificate.
    static func trustingCA(_ caFile: String) throws -> TLSContext {
        let pem: String
        do { pem = try PKIFile.readText(caFile) } catch {
            throw CtlError("cannot read the CA file \(caFile): \(error)")
        }
        return try context(TLSConfiguration(trustRootsPEM: pem))
    }

    private static func context(_ configuration: TLSConfiguration) throws -> TLSContext {
        do { return try TLSContext(configuration, side: .client) } catch {
            throw CtlError("cannot set up TLS: \(error)")
        }
    }

    /// `https://HOST:PORT` (or `HOST:PORT`; port 7441 when absent; `[V6]` literals) per entry.
    static func parseServers(_ urls: [String]) throws(ArgumentError) -> [Server] {
        var out: [Server] = []
        for url in urls {
            let bad = ArgumentError.invalidValue("--server", url, expected: "a URL like https://127.0.0.1:7441")
            var rest = Substring(url)
            if rest.hasPrefix("https://") {
                rest = rest.dropFirst("https://".count)
            } else if rest.contains("://") {
                throw bad
            }
            while rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.isEmpty, !rest.contains("/") else { throw bad }
            var host: Substring
            var portText: Substring?
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { throw bad }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":") else { throw bad }
                    portText = after.dropFirst()
                }
            } else if let colon = rest.lastIndex(of: ":") {
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                host = rest
            }
            guard !host.isEmpty else { throw bad }
            var port: UInt16 = 7441
            if let portText {
                guard let value = UInt16(portText), value > 0 else { throw bad }
                port = value
            }
            let shown = host.contains(":") ? "[\(host)]" : String(host)
            out.append(Server(url: "https://\(shown):\(port)", host: String(host), port: port))
        }
        return out
    }

    // MARK: requests

    /// Sends a request with a JSON body (`body`, when given) and returns the 2xx answer's
    /// bytes; an API error becomes `CtlError` with its status, code and message.
    func call(_ method: String, _ path: String, body: [String: Any]? = nil) throws(CtlError) -> [UInt8] {
        var request = HTTPClientRequest(method: method, path: path)
        if let body {
            do { request.body = Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) } catch
            {
                preconditionFailure("request bodies are JSON objects of strings, numbers and lists: \(error)")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let changes = method != "GET" && path != "/v1/login"
        let (server, response) = try exchange(request, changes: changes) {
            client, request throws(HTTPClientError) in try client.send(request)
        }
        try check(response.status.code, response.body, server: server, changes: changes)
        return response.body
    }

    /// Streams a GET's body into `sink` piece by piece (nothing held in memory beyond one
    /// piece). An error answer is recognised before any of it reaches `sink`.
    func download(_ path: String, into sink: ([UInt8]) throws(CtlError) -> Void) throws(CtlError) {
        let errorPrefix = Array("{\"error\"".utf8)
        var head: [UInt8] = []
        var looksLikeError: Bool?
        var delivered = 0
        var sinkError: CtlError?
        func deliver(_ bytes: [UInt8]) {
            guard sinkError == nil, !bytes.isEmpty else { return }
            do throws(CtlError) { try sink(bytes) } catch { sinkError = error }
            delivered += bytes.count
        }
        let request = HTTPClientRequest(path: path)
        let (server, response) = try exchange(
            request, changes: false, retryable: { delivered == 0 },
            send: { client, request throws(HTTPClientError) in
                head = []
                looksLikeError = nil
                return try client.send(request) { chunk in
                    switch looksLikeError {
                    case .some(false): deliver(chunk)
                    case .some(true):
                        head += chunk
                        // API errors are small: a long body with that prefix is the real answer.
                        if head.count > 64 * 1024 {
                            looksLikeError = false
                            deliver(head)
                            head = []
                        }
                    case .none:
                        head += chunk
                        guard head.count >= errorPrefix.count else { return }
                        looksLikeError = head.starts(with: errorPrefix)
                        if looksLikeError == false {
                            deliver(head)
                            head = []
                        }
                    }
                }
            })
        try check(response.status.code, head, server: server, changes: false)
        deliver(head)
        if let sinkError { throw sinkError }
    }

    /// Finds a server that accepts a connection and sends `request` there (see the type's
    /// comment for when it moves on to the next one).
    private func exchange(
        _ request: HTTPClientRequest, changes: Bool, retryable: () -> Bool = { true },
        send: (HTTPClient, HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse
    ) throws(CtlError) -> (Server, HTTPClientResponse) {
        var request = request
        if let bearer { request.headers.add(name: "Authorization", value: bearer) }
        var failures: [String: String] = [:]  // the latest per server
        var timedOut = false
        func failed(_ server: Server, _ why: String, timeout: Bool) {
            failures[server.url] = why
            timedOut = timedOut || timeout
        }
        for round in 0..<probePausesMillis.count + 1 {
            if round > 0 {
                guard !timedOut else { break }
                usleep(UInt32(probePausesMillis[round - 1]) * 1000)
            }
            if let answer = try exchangeRound(request, changes: changes, retryable: retryable, send: send, failed: failed) {
                return answer
            }
        }
        throw CtlError("no server answered: " + servers.compactMap { s in failures[s.url].map { "\(s.url): \($0)" } }
            .joined(separator: "; "))
    }

    /// One pass over the servers: the answer, or nil when every server failed before the
    /// request was sent (or, for reads, after); throws when a change was sent and got no answer.
    private func exchangeRound(
        _ request: HTTPClientRequest, changes: Bool, retryable: () -> Bool,
        send: (HTTPClient, HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse,
        failed: (Server, String, _ timeout: Bool) -> Void
    ) throws(CtlError) -> (Server, HTTPClientResponse)? {
        for (index, server) in servers.enumerated() {
            let client = HTTPClient(host: server.host, port: server.port, tls: tls, timeoutMillis: timeoutMillis)
            defer { client.close() }
            do {
                _ = try client.send(HTTPClientRequest(path: "/healthz"))
            } catch {
                failed(server, error.message, error.code == .timeout)
                continue
            }
            do {
                let response = try send(client, request)
                let last = index == servers.count - 1
                if !changes && response.status.code == 503 && !last {
                    failed(server, "503 \(Self.errorText(response.body) ?? "unavailable")", false)
                    continue
                }
                return (server, response)
            } catch {
                guard !changes else {
                    throw CtlError(
                        "\(request.method) \(request.path) was sent to \(server.url) but got no answer "
                            + "(\(error.message)); it may have been applied: check before retrying")
                }
                guard retryable() else {
                    throw CtlError("the download from \(server.url) was cut off (\(error.message)); start it again")
                }
                failed(server, error.message, error.code == .timeout)
            }
        }
        return nil
    }

    /// Throws the API error in `body` unless `status` is 2xx.
    private func check(_ status: Int, _ body: [UInt8], server: Server, changes: Bool) throws(CtlError) {
        guard !(200..<300).contains(status) else { return }
        guard let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)) else {
            throw CtlError("\(server.url) answered HTTP \(status) without an API error body")
        }
        var message = envelope.error.message
        if status == 401 && bearer != nil { message += " (run warren ctl login)" }
        if status == 503 && changes { message += " (the change may still be applied: check before retrying)" }
        throw CtlError(status: status, code: envelope.error.code, message: message)
    }

    private struct ErrorEnvelope: Decodable {
        struct Body: Decodable {
            var code: String
            var message: String
        }
        var error: Body
    }

    private static func errorText(_ body: [UInt8]) -> String? {
        (try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body))).map {
            "\($0.error.code): \($0.error.message)"
        }
    }
}
