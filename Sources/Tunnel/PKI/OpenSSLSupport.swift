internal import COpenSSL
internal import CShim

/// Small helpers shared by the PKI types: the OpenSSL error queue and memory BIOs.
/// Nothing here holds state; every function is safe from any thread (OpenSSL 3's error
/// queue is per thread).
enum OpenSSLSupport {
    /// Drains this thread's OpenSSL error queue into one line (most recent last), or nil.
    static func drainErrors() -> String? {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            // Safe: the buffer is 256 bytes and ERR_error_string_n NUL-terminates within len.
            buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// A PKIError carrying the drained OpenSSL queue.
    static func error(_ code: PKIError.Code, _ operation: String) -> PKIError {
        PKIError(code, operation, detail: drainErrors())
    }

    /// Runs `body` with a read-only memory BIO over `text`, freeing it afterwards.
    static func withReadBIO<T>(_ text: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        ERR_clear_error()
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0A] }
        // Safe: BIO_new_mem_buf reads the buffer only while the BIO lives, and the BIO is
        // freed before withUnsafeBytes returns.
        return try bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                throw error(.parse, "allocate memory BIO")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    /// Runs `write` against a fresh memory BIO and returns what it wrote as text.
    static func writeToString(_ operation: String, _ write: (OpaquePointer) -> Int32) throws -> String {
        ERR_clear_error()
        guard let bio = BIO_new(BIO_s_mem()) else { throw error(.encode, operation) }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw error(.encode, operation) }
        let pending = Int(BIO_ctrl_pending(bio))
        var out = [UInt8](repeating: 0, count: pending)
        // Safe: `out` has `pending` bytes, exactly what BIO_read may copy.
        let read = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(pending)) }
        guard read == pending else { throw error(.encode, operation) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The common name of an X509_NAME, or nil when it has none.
    static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
            let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        return asn1String(data)
    }

    /// The bytes of an ASN1_STRING as UTF-8 text.
    static func asn1String(_ string: UnsafePointer<ASN1_STRING>) -> String {
        let length = Int(ASN1_STRING_length(string))
        guard length > 0, let base = ASN1_STRING_get0_data(string) else { return "" }
        // Safe: ASN1_STRING_get0_data points at `length` bytes owned by `string`, copied here.
        return String(decoding: UnsafeBufferPointer(start: base, count: length), as: UTF8.self)
    }

    /// Builds an X509_NAME with CN (and O=Warren) for a subject.
    static func makeName(commonName: String, operation: String) throws -> OpaquePointer {
        guard let name = X509_NAME_new() else { throw error(.build, operation) }
        guard addEntry(name, "O", "Warren"), addEntry(name, "CN", commonName) else {
            X509_NAME_free(name)
            throw error(.build, operation)
        }
        return name
    }

    private static func addEntry(_ name: OpaquePointer, _ field: String, _ value: String) -> Bool {
        let bytes = Array(value.utf8)
        // Safe: OpenSSL copies the `bytes.count` bytes before returning.
        return bytes.withUnsafeBufferPointer {
            X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, $0.baseAddress, Int32($0.count), -1, 0) == 1
        }
    }
}
