/// Reads one response off an `HTTPClientTransport`: the head, then the body framed by
/// Content-Length, chunked coding, or the connection's end (RFC 9112 §6.3). Interim 1xx
/// responses are skipped. Keeps bytes read past a response for the next one.
/// Not thread-safe: owned by one `HTTPClient`.
struct HTTPClientReader {
    /// Start of the message for a connection that ended before any response byte.
    static let noResponse = "connection closed before a response"

    private var buffer: [UInt8] = []
    private var index = 0
    /// True once any byte of the current response arrived.
    private(set) var sawResponseBytes = false
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    /// A parsed response head.
    private struct Head {
        var status: HTTPStatus
        var headers: HTTPHeaders
        var isHTTP10: Bool
    }

    mutating func readResponse(
        from transport: HTTPClientTransport, isHead: Bool, headBytesMax: Int,
        body: ([UInt8]) throws(HTTPClientError) -> Void
    ) throws(HTTPClientError) -> (response: HTTPClientResponse, keepAlive: Bool) {
        sawResponseBytes = index < buffer.count
        var head = try readHead(transport, headBytesMax: headBytesMax)
        while head.status.code >= 100 && head.status.code < 200 && head.status.code != 101 {
            head = try readHead(transport, headBytesMax: headBytesMax)  // 100 Continue, 103 Early Hints
        }
        let connection = head.headers.tokens(for: "connection")
        var keepAlive = head.isHTTP10 ? connection.contains("keep-alive") : !connection.contains("close")
        let response = HTTPClientResponse(status: head.status, headers: head.headers)
        if isHead || !head.status.allowsBody { return (response, keepAlive) }
        let peer = transport.peer
        if head.headers.contains("transfer-encoding") {
            guard head.headers.tokens(for: "transfer-encoding") == ["chunked"] else {
                throw HTTPClientError(.malformedResponse, "response from \(peer) has an unsupported Transfer-Encoding")
            }
            try readChunked(transport, body: body)
        } else if let text = head.headers["content-length"] {
            guard head.headers.values(for: "content-length").count == 1, let length = Int(text), length >= 0,
                text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
            else { throw HTTPClientError(.malformedResponse, "response from \(peer) has a bad Content-Length '\(text)'") }
            try readFixed(transport, length, body: body)
        } else {
            try readToEnd(transport, body: body)
            keepAlive = false
        }
        return (response, keepAlive)
    }

    // MARK: head

    private mutating func readHead(_ transport: HTTPClientTransport, headBytesMax: Int) throws(HTTPClientError) -> Head {
        let peer = transport.peer
        var lines: [ArraySlice<UInt8>] = []
        var headBytes = 0
        while true {
            let line = try readLine(transport, limit: headBytesMax - headBytes, what: "the response head")
            headBytes += line.count + 2
            if line.isEmpty { break }
            lines.append(line)
        }
        guard let statusLine = lines.first else {
            throw HTTPClientError(.malformedResponse, "response from \(peer) has no status line")
        }
        // HTTP/1.x SP 3DIGIT SP reason
        let text = String(decoding: statusLine, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0", parts[1].utf8.count == 3,
            let code = Int(parts[1]), (100...599).contains(code)
        else {
            throw HTTPClientError(.malformedResponse, "response from \(peer) has a bad status line '\(text.prefix(80))'")
        }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex else {
                throw HTTPClientError(.malformedResponse, "response from \(peer) has a header line without a name")
            }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            headers.add(name: name, value: HTTPHeaders.trimmed(String(decoding: line[(colon + 1)...], as: UTF8.self)))
        }
        return Head(status: HTTPStatus(code), headers: headers, isHTTP10: parts[0] == "HTTP/1.0")
    }

    // MARK: bodies

    private mutating func readFixed(_ transport: HTTPClientTransport, _ length: Int,
                                    body: ([UInt8]) throws(HTTPClientError) -> Void) throws(HTTPClientError) {
        var remaining = length
        while remaining > 0 {
            if index == buffer.count {
                guard try fill(transport, "the response body") else {
                    throw HTTPClientError(
                        .io, "\(transport.peer) closed the connection \(length - remaining) bytes into a \(length)-byte body")
                }
            }
            let n = min(remaining, buffer.count - index)
            try body(Array(buffer[index..<index + n]))
            index += n
            remaining -= n
        }
    }

    private mutating func readChunked(_ transport: HTTPClientTransport,
                                      body: ([UInt8]) throws(HTTPClientError) -> Void) throws(HTTPClientError) {
        let peer = transport.peer
        while true {
            let line = try readLine(transport, limit: HTTPLimits.chunkLineBytesMax, what: "a chunk size")
            let digits = line.prefix { HTTPTarget.hexValue($0) != nil }
            guard !digits.isEmpty, digits.count <= 15 else {
                throw HTTPClientError(.malformedResponse, "response from \(peer) has a bad chunk size line")
            }
            let size = digits.reduce(0) { $0 << 4 | Int(HTTPTarget.hexValue($1)!) }
            if size == 0 { break }
            try readFixed(transport, size, body: body)
            guard try readLine(transport, limit: 2, what: "a chunk's CRLF").isEmpty else {
                throw HTTPClientError(.malformedResponse, "response from \(peer): chunk data not followed by CRLF")
            }
        }
        // Trailer fields, up to the empty line: read and ignored.
        var trailerBytes = 0
        while true {
            let line = try readLine(transport, limit: 64 * 1024 - trailerBytes, what: "the trailers")
            if line.isEmpty { return }
            trailerBytes += line.count + 2
        }
    }

    private mutating func readToEnd(_ transport: HTTPClientTransport,
                                    body: ([UInt8]) throws(HTTPClientError) -> Void) throws(HTTPClientError) {
        while true {
            if index < buffer.count {
                try body(Array(buffer[index...]))
                index = buffer.count
            }
            guard try fill(transport, "the response body") else { return }
        }
    }

    // MARK: plumbing

    /// The next CRLF-terminated line without its CRLF; `limit` bytes at most, CRLF included.
    private mutating func readLine(_ transport: HTTPClientTransport, limit: Int, what: String) throws(HTTPClientError)
        -> ArraySlice<UInt8>
    {
        var scanned = 0  // bytes after `index` known to hold no LF (fill may move `index`)
        while true {
            let end = min(buffer.count, index + max(limit, 0))
            if let lf = buffer[min(index + scanned, end)..<end].firstIndex(of: 10) {
                guard lf > index, buffer[lf - 1] == 13 else {
                    throw HTTPClientError(.malformedResponse, "response from \(transport.peer): a line ends in a bare LF")
                }
                let line = buffer[index..<(lf - 1)]
                index = lf + 1
                return line
            }
            scanned = end - index
            if buffer.count - index >= limit {
                throw HTTPClientError(.responseTooLarge, "response from \(transport.peer): \(what) is too long")
            }
            guard try fill(transport, what) else {
                if !sawResponseBytes { throw HTTPClientError(.io, "\(Self.noResponse) from \(transport.peer)") }
                throw HTTPClientError(.io, "\(transport.peer) closed the connection while sending \(what)")
            }
        }
    }

    /// Reads more bytes; false at the end of the stream.
    private mutating func fill(_ transport: HTTPClientTransport, _ what: String) throws(HTTPClientError) -> Bool {
        if index > 0 && (index == buffer.count || index >= 64 * 1024) {
            buffer.removeFirst(index)
            index = 0
        }
        let n = try scratch.withUnsafeMutableBytes { raw in
            Result { () throws(HTTPClientError) -> Int in try transport.read(into: raw, what + " from \(transport.peer)") }
        }.get()
        guard n > 0 else { return false }
        sawResponseBytes = true
        buffer += scratch[0..<n]
        return true
    }
}
