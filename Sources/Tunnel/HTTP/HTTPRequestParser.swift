/// An incremental, I/O-free HTTP/1.1 request parser (RFC 9112): bytes in, requests or
/// one error out. Bytes may arrive split anywhere; the same requests come out.
///
/// Not thread-safe (a value owned by one connection). Use: `append` what was read, then
/// call `next()` until it says `.needMoreData`. After `.failed` the parser stays failed:
/// the framing of anything after a bad request is unknown, so the connection must close.
///
/// What it accepts, strictly:
/// - Lines end in CRLF. A bare LF or a CR anywhere else is 400 (RFC 9112 §2.2 allows
///   accepting bare LF; accepting it here would let a front proxy and Warren disagree on
///   where a request ends). Empty lines before a request line are skipped.
/// - Request line `METHOD SP TARGET SP HTTP/1.x`, single spaces, a token method, a target
///   of visible ASCII in origin-form, absolute-form or `*` (OPTIONS only). Longer than
///   `requestLineBytesMax` → 414; another `HTTP/d.d` → 505.
/// - Field lines `name: value`: a token name with no space before the colon, a value of
///   visible ASCII, spaces, tabs and obs-text. obs-fold (a line starting with a space or
///   tab) → 400 (§5.2). More than `headerCountMax` fields or `headerBytesMax` bytes → 431.
/// - HTTP/1.1 needs exactly one `Host` (§3.2) → else 400.
/// - Body framing (§6): `Transfer-Encoding: chunked` or one `Content-Length`. Both at once,
///   Content-Length twice (even with equal values) or as a list, a non-digit length,
///   Transfer-Encoding in HTTP/1.0, or `chunked` twice → 400 (request smuggling defences,
///   §6.3, §11.2). Any other transfer coding → 501. A body over `bodyBytesMax` → 413,
///   decided from Content-Length before any body byte is read.
/// - Chunked: hex sizes (at most 15 digits), extensions accepted and ignored, a CRLF after
///   each chunk's data, trailer fields parsed like header fields and discarded.
public struct HTTPRequestParser: Sendable {
    /// What `next()` found.
    public enum Outcome: Sendable {
        /// A complete request; call `next()` again for a pipelined one.
        case request(HTTPRequest)
        /// Nothing complete yet: append more bytes.
        case needMoreData
        /// The input is not an acceptable request; answer `error.status` and close.
        case failed(HTTPParseError)
    }

    private enum State: Sendable {
        case requestLine
        case headers
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPParseError)
    }

    /// The request line and headers of the request being parsed.
    private struct Head: Sendable {
        var method: String
        var target: String
        var path: String
        var rawQuery: String?
        var query: [String: String]
        var version: HTTPRequest.Version
        var headers = HTTPHeaders()
    }

    public let limits: HTTPLimits
    /// Bytes appended and not yet parsed start at `readIndex`.
    /// Invariant: `readIndex <= buffer.count`; bytes before it are consumed.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the current line's LF resumes (so a slowly arriving line is
    /// scanned once, not once per append). Invariant: `readIndex <= scanIndex <= buffer.count`.
    private var scanIndex = 0
    private var state = State.requestLine
    private var head: Head?
    private var body: [UInt8] = []
    /// Bytes and fields of the current header (or trailer) section so far.
    private var sectionBytes = 0
    private var sectionFields = 0
    /// Empty-line bytes skipped before this request line (bounded like the line itself).
    private var skippedBytes = 0

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// Bytes received and not yet parsed into a request.
    public var bufferedBytes: Int { buffer.count - readIndex }

    /// True once any byte of the next request arrived (and until it completes).
    public var isMidRequest: Bool {
        if case .requestLine = state { return bufferedBytes > 0 || skippedBytes > 0 }
        return true
    }

    /// True while the request line or header section is still incomplete.
    public var isReadingHead: Bool {
        switch state {
        case .requestLine, .headers: true
        default: false
        }
    }

    /// Queues bytes for `next()`.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// Queues bytes for `next()`.
    public mutating func append(_ bytes: [UInt8]) {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// Appends `bytes` and parses everything complete: the requests in order, then the
    /// error that stopped parsing, if any.
    public mutating func feed(_ bytes: [UInt8]) -> (requests: [HTTPRequest], error: HTTPParseError?) {
        append(bytes)
        var requests: [HTTPRequest] = []
        while true {
            switch next() {
            case .request(let request): requests.append(request)
            case .needMoreData: return (requests, nil)
            case .failed(let error): return (requests, error)
            }
        }
    }

    /// Removes and returns the bytes appended but not yet parsed (those after the last
    /// request `next()` returned): after a protocol switch (WebSocket) they belong to the
    /// new protocol. The parser is then empty, at the start of a request.
    public mutating func takeUnparsedBytes() -> [UInt8] {
        let rest = Array(buffer[readIndex...])
        buffer = []
        readIndex = 0
        scanIndex = 0
        skippedBytes = 0
        return rest
    }

    /// Parses the next complete request out of the buffered bytes.
    public mutating func next() -> Outcome {
        while true {
            let progress: Bool
            switch state {
            case .failed(let error): return .failed(error)
            case .requestLine: progress = parseRequestLine()
            case .headers: progress = parseHeaderLine()
            case .fixedBody(let remaining): progress = readFixedBody(remaining)
            case .chunkSize: progress = parseChunkSize()
            case .chunkData(let remaining): progress = readChunkData(remaining)
            case .chunkDataEnd: progress = parseChunkDataEnd()
            case .trailers: progress = parseTrailerLine()
            }
            if case .failed(let error) = state { return .failed(error) }
            if let request = takeCompleteRequest() { return .request(request) }
            if !progress { return .needMoreData }
        }
    }

    // MARK: request line

    private mutating func parseRequestLine() -> Bool {
        let allowance = limits.requestLineBytesMax + 2 - skippedBytes
        guard let line = takeLine(within: allowance, whenTooLong: HTTPParseError(
            .uriTooLong, "request line longer than \(limits.requestLineBytesMax) bytes"))
        else { return false }
        if line.isEmpty {
            skippedBytes += 2
            return true
        }
        skippedBytes = 0
        do {
            head = try Self.parseRequestLine(line)
            state = .headers
            sectionBytes = 0
            sectionFields = 0
        } catch {
            fail(error)
        }
        return true
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Head {
        let parts = line.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw HTTPParseError(.badRequest, "request line must be METHOD SP TARGET SP HTTP/1.1")
        }
        let (methodBytes, targetBytes, versionBytes) = (parts[0], parts[1], parts[2])
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(HTTPWire.isTokenByte) else {
            throw HTTPParseError(.badRequest, "method is not a token")
        }
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw HTTPParseError(.badRequest, "request target has a character outside visible ASCII")
        }
        let version = try parseVersion(versionBytes)
        let method = String(decoding: methodBytes, as: UTF8.self)
        let target = String(decoding: targetBytes, as: UTF8.self)
        let parts2 = try HTTPTarget.split(target, method: method)
        return Head(
            method: method, target: target, path: parts2.path, rawQuery: parts2.rawQuery, query: parts2.query,
            version: version)
    }

    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequest.Version {
        let v = Array(bytes)
        let isDigit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        guard v.count == 8, v.starts(with: Array("HTTP/".utf8)), isDigit(v[5]), v[6] == 0x2E, isDigit(v[7]) else {
            throw HTTPParseError(.badRequest, "malformed HTTP version")
        }
        switch (v[5], v[7]) {
        case (0x31, 0x31): return .http1_1
        case (0x31, 0x30): return .http1_0
        default:
            throw HTTPParseError(
                .unsupportedVersion, "HTTP/\(Character(UnicodeScalar(v[5]))).\(Character(UnicodeScalar(v[7]))) "
                    + "is not supported (HTTP/1.0 and HTTP/1.1 are)")
        }
    }

    // MARK: header and trailer fields

    private mutating func parseHeaderLine() -> Bool {
        guard let line = takeSectionLine() else { return false }
        if line.isEmpty {
            startBody()
            return true
        }
        if let field = parseField(line) { head?.headers.add(name: field.name, value: field.value) }
        return true
    }

    private mutating func parseTrailerLine() -> Bool {
        guard let line = takeSectionLine() else { return false }
        if line.isEmpty {
            state = .requestLine  // complete: takeCompleteRequest() sees head + requestLine
            return true
        }
        _ = parseField(line)  // validated and counted, then discarded
        return true
    }

    /// The next line of a header or trailer section, counted against the section limits.
    private mutating func takeSectionLine() -> ArraySlice<UInt8>? {
        let tooLarge = HTTPParseError(.headersTooLarge, "header section larger than \(limits.headerBytesMax) bytes")
        let allowance = limits.headerBytesMax - sectionBytes + 2  // the final empty line is free
        guard let line = takeLine(within: allowance, whenTooLong: tooLarge) else { return nil }
        sectionBytes += line.count + 2
        if sectionBytes > limits.headerBytesMax + (line.isEmpty ? 2 : 0) {
            fail(tooLarge)
            return nil
        }
        return line
    }

    private mutating func parseField(_ line: ArraySlice<UInt8>) -> (name: String, value: String)? {
        sectionFields += 1
        guard sectionFields <= limits.headerCountMax else {
            fail(HTTPParseError(.headersTooLarge, "more than \(limits.headerCountMax) header fields"))
            return nil
        }
        guard let first = line.first, first != 0x20, first != 0x09 else {
            fail(HTTPParseError(.badRequest, "obsolete line folding in a header field"))
            return nil
        }
        guard let colon = line.firstIndex(of: 0x3A) else {
            fail(HTTPParseError(.badRequest, "header line without a colon"))
            return nil
        }
        let nameBytes = line[line.startIndex..<colon]
        guard !nameBytes.isEmpty, nameBytes.allSatisfy(HTTPWire.isTokenByte) else {
            fail(HTTPParseError(.badRequest, "header field name is not a token (no space before the colon)"))
            return nil
        }
        var valueBytes = line[(colon + 1)...]
        while let b = valueBytes.first, b == 0x20 || b == 0x09 { valueBytes = valueBytes.dropFirst() }
        while let b = valueBytes.last, b == 0x20 || b == 0x09 { valueBytes = valueBytes.dropLast() }
        guard valueBytes.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F }) else {
            let name = String(decoding: nameBytes, as: UTF8.self)
            fail(HTTPParseError(.badRequest, "header field \(name) has a control character"))
            return nil
        }
        return (String(decoding: nameBytes, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self))
    }

    // MARK: framing

    /// Decides the body's framing from the complete header section (RFC 9112 §6.3).
    private mutating func startBody() {
        guard let head else { preconditionFailure("headers ended without a request line") }
        do {
            switch try Self.framing(of: head, limits: limits) {
            case .none: state = .requestLine
            case .length(let n):
                body.reserveCapacity(n)
                state = .fixedBody(remaining: n)
            case .chunked:
                state = .chunkSize
            }
        } catch {
            fail(error)
        }
    }

    private enum Framing { case none, length(Int), chunked }

    private static func framing(of head: Head, limits: HTTPLimits) throws(HTTPParseError) -> Framing {
        let headers = head.headers
        if head.version == .http1_1 && headers.values(for: "host").count != 1 {
            throw HTTPParseError(.badRequest, "an HTTP/1.1 request needs exactly one Host header")
        }
        let lengths = headers.values(for: "content-length")
        let codings = headers.tokens(for: "transfer-encoding")
        let hasTE = headers.contains("transfer-encoding")
        if hasTE {
            guard lengths.isEmpty else {
                throw HTTPParseError(.badRequest, "both Content-Length and Transfer-Encoding (request smuggling)")
            }
            guard head.version == .http1_1 else {
                throw HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request")
            }
            if let other = codings.first(where: { $0 != "chunked" }) {
                throw HTTPParseError(.unsupportedTransferEncoding, "transfer coding '\(other)' is not supported")
            }
            guard codings.count == 1 else { throw HTTPParseError(.badRequest, "Transfer-Encoding must be chunked once") }
            return .chunked
        }
        guard let text = lengths.first else { return .none }
        guard lengths.count == 1 else { throw HTTPParseError(.badRequest, "more than one Content-Length") }
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let length = Int(text)
        else { throw HTTPParseError(.badRequest, "Content-Length '\(text.prefix(32))' is not a decimal length") }
        guard length <= limits.bodyBytesMax else {
            throw HTTPParseError(.bodyTooLarge, "body of \(length) bytes exceeds \(limits.bodyBytesMax)")
        }
        return length == 0 ? .none : .length(length)
    }

    // MARK: bodies

    private mutating func readFixedBody(_ remaining: Int) -> Bool {
        let n = min(remaining, bufferedBytes)
        guard n > 0 else { return false }
        body.append(contentsOf: buffer[readIndex..<readIndex + n])
        consume(n)
        state = n == remaining ? .requestLine : .fixedBody(remaining: remaining - n)
        return true
    }

    private mutating func parseChunkSize() -> Bool {
        let tooLong = HTTPParseError(.badRequest, "chunk size line longer than \(HTTPLimits.chunkLineBytesMax) bytes")
        guard let line = takeLine(within: HTTPLimits.chunkLineBytesMax, whenTooLong: tooLong) else { return false }
        let digits = line.prefix { TargetHex.isHex($0) }
        let rest = line.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 15 else {
            fail(HTTPParseError(.badRequest, "chunk size is not 1-15 hex digits"))
            return true
        }
        let extensionStart = rest.drop { $0 == 0x20 || $0 == 0x09 }
        guard rest.isEmpty || extensionStart.first == 0x3B,
            rest.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F })
        else {
            fail(HTTPParseError(.badRequest, "malformed chunk size line"))
            return true
        }
        let size = digits.reduce(0) { $0 << 4 | Int(HTTPTarget.hexValue($1)!) }
        guard size <= limits.bodyBytesMax - body.count else {
            fail(HTTPParseError(.bodyTooLarge, "chunked body exceeds \(limits.bodyBytesMax) bytes"))
            return true
        }
        if size == 0 {
            state = .trailers
            sectionBytes = 0
            sectionFields = 0
        } else {
            state = .chunkData(remaining: size)
        }
        return true
    }

    private mutating func readChunkData(_ remaining: Int) -> Bool {
        let n = min(remaining, bufferedBytes)
        guard n > 0 else { return false }
        body.append(contentsOf: buffer[readIndex..<readIndex + n])
        consume(n)
        state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
        return true
    }

    private mutating func parseChunkDataEnd() -> Bool {
        guard bufferedBytes >= 2 else {
            if bufferedBytes == 1 && buffer[readIndex] != 13 { fail(HTTPParseError(.badRequest, "chunk data not followed by CRLF")) }
            return false
        }
        guard buffer[readIndex] == 13, buffer[readIndex + 1] == 10 else {
            fail(HTTPParseError(.badRequest, "chunk data not followed by CRLF"))
            return true
        }
        consume(2)
        state = .chunkSize
        return true
    }

    // MARK: plumbing

    /// The request, once its head and body are complete (state back at `.requestLine`
    /// with a head pending).
    private mutating func takeCompleteRequest() -> HTTPRequest? {
        guard case .requestLine = state, let head else { return nil }
        self.head = nil
        let request = HTTPRequest(
            head: head.method, head.target, head.path, head.rawQuery, head.query, head.version, head.headers,
            body: body)
        body = []
        sectionBytes = 0
        sectionFields = 0
        return request
    }

    /// The next CRLF-terminated line (without the CRLF), consuming it; nil when no LF is
    /// buffered yet. No LF within `allowance` bytes fails with `whenTooLong`; an LF
    /// without CR before it fails with 400.
    private mutating func takeLine(within allowance: Int, whenTooLong: HTTPParseError) -> ArraySlice<UInt8>? {
        let searchEnd = min(buffer.count, readIndex + max(allowance, 0))
        var i = max(scanIndex, readIndex)
        while i < searchEnd && buffer[i] != 10 { i += 1 }
        guard i < searchEnd else {
            scanIndex = i
            if buffer.count - readIndex >= allowance { fail(whenTooLong) }
            return nil
        }
        guard i > readIndex, buffer[i - 1] == 13 else {
            fail(HTTPParseError(.badRequest, "line ends in a bare LF (CRLF required)"))
            return nil
        }
        let line = buffer[readIndex..<(i - 1)]
        consume(i + 1 - readIndex)
        return line
    }

    private mutating func consume(_ n: Int) {
        readIndex += n
        scanIndex = readIndex
    }

    /// Drops consumed bytes once they dominate the buffer, so memory stays bounded by
    /// the unparsed input.
    private mutating func compactIfWorthIt() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }

    private mutating func fail(_ error: HTTPParseError) {
        state = .failed(error)
        head = nil
        body = []
    }
}

enum TargetHex {
    static func isHex(_ b: UInt8) -> Bool { HTTPTarget.hexValue(b) != nil }
}

extension HTTPRequest {
    /// A parsed request; the server fills in `remoteAddress` and `clientCertificate`.
    init(
        head method: String, _ target: String, _ path: String, _ rawQuery: String?, _ query: [String: String],
        _ version: Version, _ headers: HTTPHeaders, body: [UInt8]
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.rawQuery = rawQuery
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        let connection = headers.tokens(for: "connection")
        switch version {
        case .http1_1: keepAlive = !connection.contains("close")
        case .http1_0: keepAlive = connection.contains("keep-alive") && !connection.contains("close")
        }
        remoteAddress = ""
        clientCertificate = nil
    }
}
