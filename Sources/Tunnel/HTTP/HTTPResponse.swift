/// A complete response: status, headers and the whole body.
///
/// A value type, safe to share between threads. The server sets the framing fields
/// itself: any `Content-Length`, `Transfer-Encoding` or `Connection` given here is
/// replaced when the response is serialized.
public struct HTTPResponse: Sendable, Equatable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A UTF-8 text body with `Content-Type: text/plain; charset=utf-8`.
    public static func text(_ text: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// A JSON body (already encoded) with `Content-Type: application/json`.
    public static func json(_ body: [UInt8], status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: body)
    }

    /// Warren's error shape, `{"error":{"code":"…","message":"…"}}`, with the JSON escaped here.
    public static func error(_ status: HTTPStatus, code: String, message: String) -> HTTPResponse {
        let text = "{\"error\":{\"code\":\(HTTPWire.jsonString(code)),\"message\":\(HTTPWire.jsonString(message))}}"
        return .json(Array(text.utf8), status: status)
    }

    /// The bytes on the wire: status line, the headers, `Content-Length` (unless the
    /// status forbids a body), `Connection: close` when `closing`, a blank line, and the
    /// body unless `omittingBody` (the answer to HEAD keeps the length of the GET).
    public func serialized(closing: Bool = false, omittingBody: Bool = false) -> [UInt8] {
        var framing: [(name: String, value: String)] = []
        if status.allowsBody { framing.append((name: "Content-Length", value: String(body.count))) }
        if closing { framing.append((name: "Connection", value: "close")) }
        var out = HTTPWire.head(status: status, headers: headers, framing: framing)
        if status.allowsBody && !omittingBody { out += body }
        return out
    }
}

/// Serialization helpers shared by responses, chunked writers and the client.
enum HTTPWire {
    static let crlf: [UInt8] = [13, 10]

    /// Status line, the caller's headers minus framing fields, `framing`, blank line.
    static func head(status: HTTPStatus, headers: HTTPHeaders, framing: [(name: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 32)
        out += Array("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n".utf8)
        for field in headers where !isFramingField(field.name) { appendField(field.name, field.value, to: &out) }
        for field in framing { appendField(field.name, field.value, to: &out) }
        out += crlf
        return out
    }

    static func isFramingField(_ name: String) -> Bool {
        HTTPHeaders.namesEqual(name, "content-length") || HTTPHeaders.namesEqual(name, "transfer-encoding")
            || HTTPHeaders.namesEqual(name, "connection")
    }

    /// Appends `name: value\r\n`. A name must be a token (a programmer's constant: a
    /// precondition); CR, LF and NUL in a value (which may echo client input) become
    /// spaces, so a value can never split the response (RFC 9110 §5.5).
    static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        precondition(!name.isEmpty && name.utf8.allSatisfy(isTokenByte), "invalid HTTP header name '\(name)'")
        out += Array(name.utf8)
        out += [58, 32]
        for byte in value.utf8 { out.append(byte == 13 || byte == 10 || byte == 0 ? 32 : byte) }
        out += crlf
    }

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    /// A JSON string literal with quotes and escapes (RFC 8259 §7).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
