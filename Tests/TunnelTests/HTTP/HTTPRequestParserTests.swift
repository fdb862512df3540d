import Testing

@testable import Tunnel

/// The request parser, bytes in / requests out, no sockets.
@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func parseAll(_ text: String, limits: HTTPLimits = .init()) -> ([HTTPRequest], HTTPParseError?) {
        var parser = HTTPRequestParser(limits: limits)
        return parser.feed(bytes(text))
    }

    static let pipelined =
        "GET /a%20b/c?x=1&y=hello+world&x=2&flag HTTP/1.1\r\nHost: h\r\nX-One: 1\r\n\r\n"
        + "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
        + "\r\n"  // a stray empty line between requests is skipped
        + "PUT /chunks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-Field: t\r\n\r\n"
        + "GET /old HTTP/1.0\r\n\r\n"

    @Test func pipelinedRequestsParseWithPathQueryBodyAndKeepAlive() throws {
        let (requests, error) = Self.parseAll(Self.pipelined)
        #expect(error == nil)
        try #require(requests.count == 4)
        let get = requests[0]
        #expect(get.method == "GET")
        #expect(get.target == "/a%20b/c?x=1&y=hello+world&x=2&flag")
        #expect(get.path == "/a b/c")
        #expect(get.rawQuery == "x=1&y=hello+world&x=2&flag")
        #expect(get.query == ["x": "1", "y": "hello world", "flag": ""])
        #expect(get.headers["x-one"] == "1")
        #expect(get.headers["HOST"] == "h")
        #expect(get.keepAlive)
        #expect(requests[1].body == Self.bytes("hello"))
        #expect(requests[1].headers["content-type"] == "text/plain")
        #expect(requests[2].body == Self.bytes("abc0123456789abcdef"))
        #expect(requests[2].headers["trailer-field"] == nil)
        #expect(requests[3].version == .http1_0)
        #expect(!requests[3].keepAlive)
    }

    @Test func splittingTheInputAtEveryByteBoundaryGivesTheSameRequests() throws {
        let input = Self.bytes(Self.pipelined)
        let (whole, _) = Self.parseAll(Self.pipelined)
        for cut in 0...input.count {
            var parser = HTTPRequestParser()
            let first = parser.feed(Array(input[..<cut]))
            let second = parser.feed(Array(input[cut...]))
            #expect(first.error == nil && second.error == nil, "cut at \(cut)")
            let requests = first.requests + second.requests
            #expect(requests.map(\.target) == whole.map(\.target), "cut at \(cut)")
            #expect(requests.map(\.body) == whole.map(\.body), "cut at \(cut)")
            #expect(requests.map(\.headers) == whole.map(\.headers), "cut at \(cut)")
        }
        // And one byte at a time.
        var parser = HTTPRequestParser()
        var requests: [HTTPRequest] = []
        for byte in input {
            let step = parser.feed([byte])
            #expect(step.error == nil)
            requests += step.requests
        }
        #expect(requests.map(\.body) == whole.map(\.body))
        #expect(parser.bufferedBytes == 0)
        #expect(!parser.isMidRequest)
    }

    @Test func keepAliveFollowsVersionAndConnectionHeader() {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ]
        for (text, keepAlive) in cases {
            let (requests, error) = Self.parseAll(text)
            #expect(error == nil)
            #expect(requests.first?.keepAlive == keepAlive, "\(text)")
        }
    }

    @Test func targetsInAbsoluteAndAsteriskForm() {
        let (requests, error) = Self.parseAll(
            "GET http://example.com:8080/x/y?q=%41 HTTP/1.1\r\nHost: h\r\n\r\n"
                + "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\nGET http://example.com HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(error == nil)
        #expect(requests.map(\.path) == ["/x/y", "*", "/"])
        #expect(requests.first?.query == ["q": "A"])
    }

    /// Each malformed or over-limit input and the status it earns.
    static let rejections: [(name: String, input: String, status: Int)] = [
        ("bare LF ends a line", "GET / HTTP/1.1\nHost: h\n\n", 400),
        ("bare CR inside a value", "GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400),
        ("two spaces in request line", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ("HTTP/0.9 style", "GET / HTTP/0.9\r\n\r\n", 505),
        ("target not origin-form", "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("asterisk for GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("bad percent escape", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("percent-encoded NUL", "GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        ("no colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400),
        ("NUL in a value", "GET / HTTP/1.1\r\nHost: h\u{0}\r\n\r\n", 400),
        // Request smuggling (RFC 9112 §6.3, §11.2).
        ("CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("conflicting CLs", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("repeated equal CLs", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("signed CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("hex CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc", 400),
        ("huge CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("TE identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501),
        ("chunk size not hex", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
        ("chunk without CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        ("chunk size with junk", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n", 400),
        ("negative chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\n", 400),
    ]

    @Test(arguments: rejections.indices)
    func malformedRequestsAreRejectedWithTheirStatus(_ index: Int) {
        let (name, input, status) = Self.rejections[index]
        let (requests, error) = Self.parseAll(input)
        #expect(requests.isEmpty, "\(name)")
        #expect(error?.status.code == status, "\(name): \(String(describing: error))")
    }

    @Test func aFailedParserStaysFailed() {
        var parser = HTTPRequestParser()
        let first = parser.feed(Self.bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\nBAD\r\n"))
        #expect(first.requests.count == 1)
        #expect(first.error?.status == .badRequest)
        let again = parser.feed(Self.bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(again.requests.isEmpty)
        #expect(again.error?.status == .badRequest)
    }

    static let small = HTTPLimits(requestLineBytesMax: 64, headerBytesMax: 128, headerCountMax: 4, bodyBytesMax: 16)

    @Test func eachLimitAnswersItsStatusAndJustUnderTheLimitIsAccepted() {
        let longTarget = "/" + String(repeating: "a", count: 64 - "GET / HTTP/1.1".count)
        #expect(Self.parseAll("GET \(longTarget) HTTP/1.1\r\nHost: h\r\n\r\n", limits: Self.small).1 == nil)
        let tooLong = Self.parseAll("GET \(longTarget)a HTTP/1.1\r\nHost: h\r\n\r\n", limits: Self.small).1
        #expect(tooLong?.status == .uriTooLong)
        // 414 is decided without waiting for the line's end.
        var streaming = HTTPRequestParser(limits: Self.small)
        #expect(streaming.feed(Self.bytes("GET /" + String(repeating: "a", count: 100))).error?.status == .uriTooLong)

        let fourFields = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        #expect(Self.parseAll(fourFields, limits: Self.small).1 == nil)
        let fiveFields = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"
        #expect(Self.parseAll(fiveFields, limits: Self.small).1?.status == .requestHeaderFieldsTooLarge)
        // 128 bytes of fields (each line with its CRLF) fit; 129 do not.
        let field = "Host: " + String(repeating: "h", count: 128 - 8)
        #expect(Self.parseAll("GET / HTTP/1.1\r\n\(field)\r\n\r\n", limits: Self.small).1 == nil)
        #expect(
            Self.parseAll("GET / HTTP/1.1\r\n\(field)h\r\n\r\n", limits: Self.small).1?.status
                == .requestHeaderFieldsTooLarge)

        let body16 = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n" + String(repeating: "b", count: 16)
        #expect(Self.parseAll(body16, limits: Self.small).0.first?.body.count == 16)
        // 413 from Content-Length alone, before the body is sent.
        #expect(
            Self.parseAll("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n", limits: Self.small).1?.status
                == .contentTooLarge)
        let chunked17 = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n9\r\n"
        #expect(Self.parseAll(chunked17, limits: Self.small).1?.status == .contentTooLarge)
        let chunked16 = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
        #expect(Self.parseAll(chunked16, limits: Self.small).0.first?.body.count == 16)
    }

    @Test func aHeaderSectionWithoutEndIsRejectedOnceItPassesTheLimit() {
        var parser = HTTPRequestParser(limits: Self.small)
        var text = "GET / HTTP/1.1\r\nHost: h\r\n"
        while text.utf8.count < 400 { text += "X: y\r\n" }
        #expect(parser.feed(Self.bytes(text)).error?.status == .requestHeaderFieldsTooLarge)
        var noLF = HTTPRequestParser(limits: Self.small)
        #expect(noLF.feed(Self.bytes("GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 200))).error?.status
            == .requestHeaderFieldsTooLarge)
    }

    /// SplitMix64, so the fuzz inputs are the same on every run.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func randomBytesAndMutatedRequestsNeverCrashAndAlwaysEndInRequestsOrAnError() {
        var random = SeededRandom(state: 20_261_123)
        let seed = Self.bytes(Self.pipelined)
        let alphabet = Self.bytes("GET POST HTTP/1.1\r\n:;0123456789abcdefABCDEF -\t%?&=/chunkedContent-LengthTransfer-Encoding")
        let limits = HTTPLimits(requestLineBytesMax: 256, headerBytesMax: 512, headerCountMax: 8, bodyBytesMax: 256)
        var outcomes = (requests: 0, errors: 0, pending: 0)
        for round in 0..<4000 {
            var input: [UInt8]
            switch round % 3 {
            case 0:  // pure noise
                input = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1:  // noise from the HTTP alphabet
                input = (0..<Int.random(in: 0...300, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            default:  // a valid stream with a few bytes changed, inserted or dropped
                input = seed
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let at = Int.random(in: 0..<input.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: input[at] = alphabet.randomElement(using: &random)!
                    case 1: input.insert(UInt8.random(in: 0...255, using: &random), at: at)
                    default: input.remove(at: at)
                    }
                }
            }
            var parser = HTTPRequestParser(limits: limits)
            var requests = 0
            var failed = false
            var offset = 0
            while offset < input.count && !failed {
                let step = Int.random(in: 1...64, using: &random)
                let end = min(input.count, offset + step)
                let result = parser.feed(Array(input[offset..<end]))
                requests += result.requests.count
                if let error = result.error {
                    failed = true
                    #expect([400, 413, 414, 431, 501, 505].contains(error.status.code))
                }
                offset = end
            }
            // Every byte is either consumed into requests, rejected, or held for more.
            #expect(failed || parser.bufferedBytes <= input.count)
            outcomes.requests += requests
            if failed { outcomes.errors += 1 } else if parser.isMidRequest { outcomes.pending += 1 }
        }
        #expect(outcomes.requests > 0 && outcomes.errors > 0)
    }
}
