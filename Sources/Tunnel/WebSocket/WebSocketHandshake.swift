/// The opening handshake (RFC 6455 §4): key and accept values, the server's check of an
/// upgrade request, the client's request and its check of the 101 response. Pure apart
/// from `makeKey()`, which draws from `SecureRandom`.
public enum WebSocketHandshake {
    /// The GUID appended to the key before hashing (§1.3).
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// The only version spoken (§4.1).
    public static let version = "13"
    /// Warren's stream multiplexer over binary messages, the subprotocol connectors offer.
    public static let muxProtocol = "warren-mux.v1"

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, Base64 (24 characters).
    public static func makeKey() -> String { Base64.encode(SecureRandom.bytes(16)) }

    /// `Sec-WebSocket-Accept` for `key`: Base64 of SHA-1 of the key and the GUID (§4.2.2).
    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + guid).utf8)))
    }

    /// True when `key` is Base64 of exactly 16 bytes (§4.1 item 7).
    public static func isValidKey(_ key: String) -> Bool { Base64.decode(key)?.count == 16 }

    // MARK: server

    /// The server's verdict on an upgrade request.
    public enum Verdict: Sendable, Equatable {
        /// Switch: send `response101(accept:protocol:)`.
        case accept(accept: String, protocol: String?)
        /// Refuse with this response (its status names the reason; the connection then
        /// stays an HTTP connection).
        case reject(HTTPResponse)
    }

    /// Checks `request` against §4.2.1. With `protocol` set, the client must offer it in
    /// `Sec-WebSocket-Protocol` and it is selected; with nil none is selected whatever
    /// the client offers. Extensions offered are ignored (none is ever negotiated).
    ///
    /// Refusals: not GET → 405; HTTP/1.0 → 400; no `Upgrade: websocket` or no `upgrade`
    /// token in `Connection` → 426 with `Upgrade: websocket`; a `Sec-WebSocket-Version`
    /// other than exactly `13` (or none) → 426 with `Sec-WebSocket-Version: 13` (§4.4);
    /// a missing, repeated or malformed `Sec-WebSocket-Key` → 400; the required
    /// subprotocol not offered → 400.
    public static func validate(_ request: HTTPRequest, protocol wanted: String? = nil) -> Verdict {
        let headers = request.headers
        guard request.method == "GET" else {
            var response = refusal(.methodNotAllowed, "websocket_method", "a WebSocket upgrade must use GET")
            response.headers.add(name: "Allow", value: "GET")
            return .reject(response)
        }
        guard request.version == .http1_1 else {
            return .reject(refusal(.badRequest, "websocket_version", "a WebSocket upgrade needs HTTP/1.1"))
        }
        guard headers.tokens(for: "upgrade").contains("websocket"), headers.tokens(for: "connection").contains("upgrade")
        else {
            var response = refusal(
                426, "upgrade_required", "this resource is a WebSocket: send Upgrade: websocket and Connection: Upgrade")
            response.headers.add(name: "Upgrade", value: "websocket")
            return .reject(response)
        }
        guard headers.values(for: "sec-websocket-version").map({ HTTPHeaders.trimmed($0) }) == [version] else {
            let got = headers.values(for: "sec-websocket-version").joined(separator: ",")
            var response = refusal(
                426, "websocket_version", "Sec-WebSocket-Version '\(got)' is not supported; send 13")
            response.headers.add(name: "Sec-WebSocket-Version", value: version)
            return .reject(response)
        }
        let keys = headers.values(for: "sec-websocket-key")
        guard keys.count == 1, let key = keys.first.map({ HTTPHeaders.trimmed($0) }), isValidKey(key) else {
            return .reject(refusal(
                .badRequest, "websocket_key", "Sec-WebSocket-Key must appear once and be Base64 of 16 bytes"))
        }
        if let wanted, !headers.tokens(for: "sec-websocket-protocol").contains(HTTPHeaders.lowercased(wanted)) {
            return .reject(refusal(.badRequest, "websocket_protocol", "subprotocol \(wanted) must be offered"))
        }
        return .accept(accept: acceptValue(forKey: key), protocol: wanted)
    }

    /// The bytes of the 101 response (§4.2.2 item 5).
    public static func response101(accept: String, protocol selected: String?) -> [UInt8] {
        var headers: HTTPHeaders = ["Upgrade": "websocket", "Sec-WebSocket-Accept": accept]
        if let selected { headers.add(name: "Sec-WebSocket-Protocol", value: selected) }
        return HTTPWire.head(
            status: .switchingProtocols, headers: headers, framing: [(name: "Connection", value: "Upgrade")])
    }

    private static func refusal(_ status: HTTPStatus, _ code: String, _ message: String) -> HTTPResponse {
        HTTPResponse.error(status, code: code, message: message)
    }

    // MARK: client

    /// The client's upgrade request (§4.1): `GET path HTTP/1.1` with Host, the upgrade
    /// fields, `key`, the offered `protocol`, then `headers` (which may not override the
    /// handshake's own fields: those are dropped from `headers`).
    public static func clientRequest(
        host: String, path: String, key: String, protocol offered: String?, headers: HTTPHeaders = [:]
    ) -> [UInt8] {
        precondition(path.hasPrefix("/") && path.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F },
                     "WebSocket path must start with / and be visible ASCII: \(path)")
        var out = Array("GET \(path) HTTP/1.1\r\n".utf8)
        var fields: [(String, String)] = [
            ("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", version),
        ]
        if let offered { fields.append(("Sec-WebSocket-Protocol", offered)) }
        let own = Set(fields.map { HTTPHeaders.lowercased($0.0) })
        for field in headers where !own.contains(HTTPHeaders.lowercased(field.name)) { fields.append(field) }
        for (name, value) in fields { HTTPWire.appendField(name, value, to: &out) }
        out += HTTPWire.crlf
        return out
    }

    /// Checks the server's answer to a request sent with `key` and `offered` (§4.1, the
    /// client's requirements). A status other than 101 is `.refused` (with the status);
    /// a wrong `Upgrade`, `Connection` or `Sec-WebSocket-Accept`, any extension, or a
    /// subprotocol other than the offered one (or none when one was offered: Warren's
    /// client requires what it offers) is `.badResponse`. Nil when acceptable.
    public static func checkResponse(
        _ head: WebSocketResponseHead, key: String, protocol offered: String?, peer: String
    ) -> WebSocketError? {
        guard head.status == .switchingProtocols else {
            var error = WebSocketError(.refused, "WebSocket upgrade to \(peer) refused: \(head.status)", status: head.status)
            error.location = head.headers.values(for: "location").first.map { HTTPHeaders.trimmed($0) }
            return error
        }
        let headers = head.headers
        func bad(_ what: String) -> WebSocketError {
            WebSocketError(.badResponse, "WebSocket upgrade response from \(peer): \(what)")
        }
        guard headers.tokens(for: "upgrade") == ["websocket"] else { return bad("Upgrade is not websocket") }
        guard headers.tokens(for: "connection").contains("upgrade") else { return bad("Connection lacks upgrade") }
        guard headers.values(for: "sec-websocket-accept").map({ HTTPHeaders.trimmed($0) }) == [acceptValue(forKey: key)]
        else { return bad("Sec-WebSocket-Accept does not match the key") }
        guard !headers.contains("sec-websocket-extensions") else { return bad("an extension was selected; none was offered") }
        let selected = headers.values(for: "sec-websocket-protocol").map { HTTPHeaders.trimmed($0) }
        if let offered {
            guard selected == [offered] else { return bad("subprotocol \(selected) instead of \(offered)") }
        } else if !selected.isEmpty {
            return bad("subprotocol \(selected) selected; none was offered")
        }
        return nil
    }
}

/// The status line and header fields of an HTTP response, as the WebSocket client reads
/// them before switching protocols. A value type, safe to share between threads.
public struct WebSocketResponseHead: Sendable, Equatable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders

    public init(status: HTTPStatus, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }

    /// Where the head ends in `bytes`: the index just past the first CRLF CRLF, or nil.
    static func endIndex(in bytes: [UInt8], searchingFrom start: Int) -> Int? {
        var i = max(start, 3)
        while i < bytes.count {
            if bytes[i] == 10 && bytes[i - 1] == 13 && bytes[i - 2] == 10 && bytes[i - 3] == 13 { return i + 1 }
            i += 1
        }
        return nil
    }

    /// Parses a complete head (status line, fields, the blank line; CRLF line ends).
    /// Nil when it is not `HTTP/1.x DDD reason` followed by `name: value` lines.
    static func parse(_ bytes: ArraySlice<UInt8>) -> WebSocketResponseHead? {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let statusLine = lines.first else { return nil }
        let text = String(decoding: statusLine, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0", parts[1].utf8.count == 3,
            parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let code = Int(parts[1]), (100...599).contains(code)
        else { return nil }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex,
                line[line.startIndex..<colon].allSatisfy(HTTPWire.isTokenByte)
            else { return nil }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            let value = HTTPHeaders.trimmed(String(decoding: line[(colon + 1)...], as: UTF8.self))
            headers.add(name: name, value: value)
        }
        return WebSocketResponseHead(status: HTTPStatus(code), headers: headers)
    }
}
