import Testing

@testable import Tunnel

/// The opening handshake (RFC 6455 §4) as values: keys, accept, request and response checks.
@Suite("WebSocket handshake")
struct WebSocketHandshakeTests {
    static let rfcKey = "dGhlIHNhbXBsZSBub25jZQ=="

    static func request(
        method: String = "GET", version: HTTPRequest.Version = .http1_1, dropping: Set<String> = [],
        replacing: [String: String] = [:]
    ) throws -> HTTPRequest {
        var headers = HTTPHeaders()
        let fields = [
            ("Host", "gw.example:443"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", rfcKey), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", "chat, warren-mux.v1"),
        ]
        for (name, value) in fields where !dropping.contains(name) {
            headers.add(name: name, value: replacing[name] ?? value)
        }
        return try HTTPRequest(method: method, target: "/v1/connect", version: version, headers: headers)
    }

    static func status(_ verdict: WebSocketHandshake.Verdict) -> Int? {
        if case .reject(let response) = verdict { return response.status.code }
        return nil
    }

    @Test func sha1AndBase64MatchTheirStandardVectors() {
        #expect(Hex.encode(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Hex.encode(SHA1.hash([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        // RFC 4648 §10.
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                       ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        for bad in ["Zg", "Zg=", "Zh==", "Z===", "Zm9v!A==", "Zg==Zg==", "-_8="] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func theAcceptValueIsTheRFCExample() {
        #expect(WebSocketHandshake.acceptValue(forKey: Self.rfcKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func generatedKeysAreFreshSixteenByteValues() {
        let a = WebSocketHandshake.makeKey(), b = WebSocketHandshake.makeKey()
        #expect(a != b)
        #expect(a.utf8.count == 24 && WebSocketHandshake.isValidKey(a))
        #expect(!WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ"))  // unpadded
        #expect(!WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25j"))  // 15 bytes
    }

    @Test func aGoodRequestIsAcceptedWithTheRequiredProtocol() throws {
        let verdict = WebSocketHandshake.validate(try Self.request(), protocol: WebSocketHandshake.muxProtocol)
        #expect(verdict == .accept(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocol: "warren-mux.v1"))
        // No protocol wanted: none selected even though some are offered.
        #expect(WebSocketHandshake.validate(try Self.request()) == .accept(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocol: nil))
    }

    @Test(arguments: [
        ("POST", [], [:], 405),
        ("GET", ["Upgrade"], [:], 426),
        ("GET", ["Connection"], [:], 426),
        ("GET", [], ["Upgrade": "h2c"], 426),
        ("GET", ["Sec-WebSocket-Version"], [:], 426),
        ("GET", [], ["Sec-WebSocket-Version": "8"], 426),
        ("GET", ["Sec-WebSocket-Key"], [:], 400),
        ("GET", [], ["Sec-WebSocket-Key": "c2hvcnQ="], 400),
        ("GET", [], ["Sec-WebSocket-Key": "not base64 at all!!!!!!!"], 400),
        ("GET", [], ["Sec-WebSocket-Protocol": "chat"], 400),
        ("GET", ["Sec-WebSocket-Protocol"], [:], 400),
    ] as [(String, Set<String>, [String: String], Int)])
    func aBadRequestIsRefusedWithItsStatus(_ method: String, _ dropping: Set<String>, _ replacing: [String: String],
                                          _ status: Int) throws {
        let request = try Self.request(method: method, dropping: dropping, replacing: replacing)
        #expect(Self.status(WebSocketHandshake.validate(request, protocol: WebSocketHandshake.muxProtocol)) == status)
    }

    @Test func refusalsNameTheFix() throws {
        guard case .reject(let version) = WebSocketHandshake.validate(
            try Self.request(replacing: ["Sec-WebSocket-Version": "8"]))
        else { Issue.record("accepted"); return }
        #expect(version.headers["Sec-WebSocket-Version"] == "13")
        guard case .reject(let plain) = WebSocketHandshake.validate(try Self.request(dropping: ["Upgrade"]))
        else { Issue.record("accepted"); return }
        #expect(plain.headers["Upgrade"] == "websocket")
        #expect(Self.status(WebSocketHandshake.validate(try Self.request(version: .http1_0))) == 400)
    }

    @Test func the101CarriesTheUpgradeFields() throws {
        let bytes = WebSocketHandshake.response101(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocol: "warren-mux.v1")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
        let head = try #require(WebSocketResponseHead.parse(bytes[...]))
        #expect(head.headers["connection"] == "Upgrade" && head.headers["upgrade"] == "websocket")
        #expect(WebSocketHandshake.checkResponse(head, key: Self.rfcKey, protocol: "warren-mux.v1", peer: "p") == nil)
    }

    @Test func theClientRequestKeepsItsOwnFields() {
        let bytes = WebSocketHandshake.clientRequest(
            host: "gw:443", path: "/v1/connect", key: Self.rfcKey, protocol: "warren-mux.v1",
            headers: ["Authorization": "Bearer x", "Upgrade": "h2c"])
        var parser = HTTPRequestParser()
        let (requests, error) = parser.feed(bytes)
        #expect(error == nil)
        let request = requests[0]
        #expect(request.headers.values(for: "upgrade") == ["websocket"])
        #expect(request.headers["authorization"] == "Bearer x")
        #expect(WebSocketHandshake.validate(request, protocol: "warren-mux.v1")
            == .accept(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocol: "warren-mux.v1"))
    }

    @Test func theClientRefusesABadResponse() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        func check(_ fields: [(String, String)], status: HTTPStatus = .switchingProtocols, offered: String? = "warren-mux.v1")
            -> WebSocketError.Code?
        {
            let head = WebSocketResponseHead(status: status, headers: HTTPHeaders(fields.map { (name: $0.0, value: $0.1) }))
            return WebSocketHandshake.checkResponse(head, key: Self.rfcKey, protocol: offered, peer: "p")?.code
        }
        let good = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept),
                    ("Sec-WebSocket-Protocol", "warren-mux.v1")]
        #expect(check(good) == nil)
        #expect(check(good, status: .badRequest) == .refused)
        #expect(check(Array(good.dropFirst())) == .badResponse)
        #expect(check([good[0], good[1], ("Sec-WebSocket-Accept", "x"), good[3]]) == .badResponse)
        #expect(check(good + [("Sec-WebSocket-Extensions", "permessage-deflate")]) == .badResponse)
        #expect(check(Array(good.dropLast())) == .badResponse)  // protocol offered, none selected
        #expect(check(good, offered: nil) == .badResponse)  // selected without an offer
        #expect(WebSocketResponseHead.parse(Array("HTTP/1.1 1O1 x\r\n\r\n".utf8)[...]) == nil)
    }
}
