internal import COpenSSL
internal import CShim

/// The custom BIO between OpenSSL and the engine's byte queues. Its data pointer is the
/// unretained engine; callbacks run only inside the engine's own SSL_* calls, on its loop.
extension TLSEngine {
    /// The one BIO_METHOD, created on first use.
    static var bioMethod: OpaquePointer { warrenTLSBIOMethod }

    fileprivate static func engine(_ bio: OpaquePointer?) -> TLSEngine {
        // Safe: BIO data is set in TLSEngine.init to the engine owning this BIO's SSL.
        Unmanaged<TLSEngine>.fromOpaque(BIO_get_data(bio)!).takeUnretainedValue()
    }

    /// OpenSSL's read: serve `inbound`; empty → retry (-1), or EOF (0) after TCP EOF.
    fileprivate func bioRead(_ bio: OpaquePointer?, _ out: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
        warren_bio_clear_retry_flags(bio)
        guard let out, length > 0 else { return 0 }
        if inbound.isEmpty {
            if peerClosedTransport { return 0 }
            warren_bio_set_retry_read(bio)
            return -1
        }
        let n = min(Int(length), inbound.count)
        // Safe: `out` has `length` writable bytes and `inbound.readable` has `count` ≥ n.
        UnsafeMutableRawPointer(out).copyMemory(from: inbound.readable.baseAddress!, byteCount: n)
        inbound.consume(n)
        return Int32(n)
    }

    /// OpenSSL's write: append everything to `outbound` (never blocks).
    fileprivate func bioWrite(_ bio: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int32) -> Int32 {
        warren_bio_clear_retry_flags(bio)
        guard let data, length > 0 else { return 0 }
        // Safe: OpenSSL passes `length` readable bytes at `data`.
        outbound.append(UnsafeRawBufferPointer(start: data, count: Int(length)))
        return length
    }

    fileprivate func bioControl(_ command: Int32) -> Int {
        switch command {
        case BIO_CTRL_FLUSH: 1
        case BIO_CTRL_PENDING: inbound.count
        case BIO_CTRL_WPENDING: outbound.count
        case BIO_CTRL_EOF: peerClosedTransport && inbound.isEmpty ? 1 : 0
        default: 0
        }
    }
}

// Safe: written once by Swift's thread-safe lazy global initialisation, then only read;
// OpenSSL never mutates a BIO_METHOD after setup.
nonisolated(unsafe) private let warrenTLSBIOMethod: OpaquePointer = {
    let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
    guard let method = BIO_meth_new(type, "warren-tls-engine") else {
        preconditionFailure("BIO_meth_new failed: out of memory")
    }
    let ok =
        BIO_meth_set_write(method) { bio, data, length in TLSEngine.engine(bio).bioWrite(bio, data, length) } == 1
        && BIO_meth_set_read(method) { bio, out, length in TLSEngine.engine(bio).bioRead(bio, out, length) } == 1
        && BIO_meth_set_ctrl(method) { bio, command, _, _ in TLSEngine.engine(bio).bioControl(command) } == 1
        && BIO_meth_set_create(method) { bio in
            BIO_set_init(bio, 1)
            return 1
        } == 1
        && BIO_meth_set_destroy(method) { bio in
            BIO_set_data(bio, nil)
            return 1
        } == 1
    precondition(ok, "BIO_meth_set_* failed")
    return method
}()
