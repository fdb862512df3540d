/// Bounds on what one HTTP/1.1 request may make the server hold or wait for.
/// Exceeding a size limit is answered with its status (see `HTTPParseError`).
///
/// A value type, safe to share between threads.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest request line (method, target, version; without CRLF). Longer → 414.
    public var requestLineBytesMax: Int
    /// Largest header section (every field line with its CRLF, and the trailers of a
    /// chunked body). Larger → 431.
    public var headerBytesMax: Int
    /// Most header fields (and, separately, trailer fields). More → 431.
    public var headerCountMax: Int
    /// Largest request body, by Content-Length or by the sum of chunks. Larger → 413.
    public var bodyBytesMax: Int
    /// From a connection's accept, or from the first byte of a later request, until the
    /// header section is complete; then 408 and the connection closes.
    public var headerTimeoutNanos: UInt64
    /// A kept-alive connection waiting for its next request is closed after this
    /// (silently: the client did not ask for anything).
    public var idleTimeoutNanos: UInt64

    /// The defaults: 8 KiB request line, 16 KiB headers, 100 fields, 1 MiB body,
    /// 10 s to send the headers, 60 s idle between requests.
    public init(
        requestLineBytesMax: Int = 8 * 1024, headerBytesMax: Int = 16 * 1024, headerCountMax: Int = 100,
        bodyBytesMax: Int = 1024 * 1024, headerTimeoutNanos: UInt64 = 10_000_000_000,
        idleTimeoutNanos: UInt64 = 60_000_000_000
    ) {
        precondition(requestLineBytesMax > 0 && headerBytesMax > 0 && headerCountMax > 0 && bodyBytesMax >= 0)
        self.requestLineBytesMax = requestLineBytesMax
        self.headerBytesMax = headerBytesMax
        self.headerCountMax = headerCountMax
        self.bodyBytesMax = bodyBytesMax
        self.headerTimeoutNanos = headerTimeoutNanos
        self.idleTimeoutNanos = idleTimeoutNanos
    }

    /// Longest chunk-size line (size, extensions, CRLF) in a chunked body. Longer → 400.
    static let chunkLineBytesMax = 1024
}
