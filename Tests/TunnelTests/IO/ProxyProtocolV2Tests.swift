import Testing

@testable import Tunnel

/// The PROXY protocol v2 header, byte in, decision out.
@Suite("PROXY protocol v2")
struct ProxyProtocolV2Tests {
    /// 203.0.113.7:4242 → 10.0.0.1:443.
    let v4 = ProxyProtocolV2.header(source: (0xCB00_7107, 4242), destination: (0x0A00_0001, 443))

    @Test func anIPv4HeaderGivesTheClientAndItsLength() {
        #expect(v4.count == 28)
        #expect(
            ProxyProtocolV2.parse(v4 + Array("GET / HTTP/1.1\r\n".utf8))
                == .proxied(source: "203.0.113.7:4242", destination: "10.0.0.1:443", headerBytes: 28))
    }

    @Test func anIPv6HeaderWithTLVsIsParsedAndItsTLVsSkipped() {
        var header = ProxyProtocolV2.signature + [0x21, 0x21, 0x00, 36 + 7]
        header += [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [0x05]  // 2001:db8::5
        header += Array(repeating: 0, count: 15) + [0x01]  // ::1
        header += [0x1F, 0x90, 0x01, 0xBB]  // 8080 → 443
        header += [0x04, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64]  // a TLV (type 4, "abcd")
        #expect(
            ProxyProtocolV2.parse(header)
                == .proxied(source: "[2001:db8::5]:8080", destination: "[::1]:443", headerBytes: 59))
    }

    @Test func aLocalHeaderKeepsTheSocketsOwnPeer() {
        let local = ProxyProtocolV2.signature + [0x20, 0x00, 0x00, 0x00]
        #expect(ProxyProtocolV2.parse(local) == .local(headerBytes: 16))
        // UNIX-socket addresses (family 0x31) are not a TCP client either.
        let unix = ProxyProtocolV2.signature + [0x21, 0x31, 0x00, 0x02, 0xAA, 0xBB]
        #expect(ProxyProtocolV2.parse(unix) == .local(headerBytes: 18))
    }

    @Test func everyPrefixOfAHeaderAsksForMoreAndNeverForTooMuch() {
        for n in 0..<v4.count {
            let parsed = ProxyProtocolV2.parse(v4.prefix(n))
            let expected: ProxyProtocolV2.Parsed = n < 16 ? .incomplete(totalBytes: 16) : .incomplete(totalBytes: 28)
            #expect(parsed == expected, "prefix of \(n) bytes")
        }
    }

    @Test func badHeadersAreRefusedWithAReason() {
        func reason(_ bytes: [UInt8]) -> String? {
            if case .invalid(let why) = ProxyProtocolV2.parse(bytes) { return why }
            return nil
        }
        #expect(reason(Array("\u{16}\u{03}\u{01}".utf8))?.contains("no PROXY protocol v2 signature") == true)  // a TLS ClientHello
        #expect(reason(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8)) != nil)  // version 1 text
        #expect(reason(ProxyProtocolV2.signature + [0x11, 0x11, 0x00, 0x0C])?.contains("version 1") == true)
        #expect(reason(ProxyProtocolV2.signature + [0x22, 0x11, 0x00, 0x0C])?.contains("command 2") == true)
        #expect(reason(ProxyProtocolV2.signature + [0x21, 0x11, 0x02, 0x01])?.contains("limit") == true)
        #expect(reason(ProxyProtocolV2.signature + [0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4])?.contains("12 bytes") == true)
        #expect(reason(ProxyProtocolV2.signature + [0x21, 0x21, 0x00, 0x0C] + Array(repeating: 0, count: 12))?
            .contains("36 bytes") == true)
    }

    @Test func anyByteStringGivesADecisionWithoutCrashing() {
        var random = SystemRandomNumberGenerator()
        for i in 0..<20_000 {
            // Half start with the signature so the parser gets past the first check.
            var bytes = i % 2 == 0 ? ProxyProtocolV2.signature : []
            bytes += (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            switch ProxyProtocolV2.parse(bytes) {
            case .incomplete(let total): #expect(total > bytes.count && total <= 16 + ProxyProtocolV2.bodyBytesMax)
            case .proxied(_, _, let n), .local(let n): #expect(n <= bytes.count)
            case .invalid: break
            }
        }
    }

    @Test func thePeerHostIsTakenWithoutThePort() {
        #expect(ProxyProtocolV2.host(ofPeer: "127.0.0.9:5555") == "127.0.0.9")
        #expect(ProxyProtocolV2.host(ofPeer: "[::1]:443") == "::1")
    }
}
