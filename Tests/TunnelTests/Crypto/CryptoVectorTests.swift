import Testing

@testable import Tunnel

private func hex(_ text: String) -> [UInt8] {
    (try? Hex.decode(text.filter { !$0.isWhitespace })) ?? []
}

@Suite("Crypto primitives against published vectors")
struct CryptoVectorTests {
    // FIPS 180-2 appendix B.1 / B.2, and the empty message.
    @Test func sha256MatchesTheFIPSExamples() {
        #expect(Hex.encode(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Hex.encode(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func incrementalSHA256EqualsOneShotWhateverTheSplit() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        for split in 0...message.count {
            let hasher = SHA256()
            hasher.update(Array(message[..<split]))
            hasher.update([])
            hasher.update(Array(message[split...]))
            #expect(hasher.finalize() == SHA256.hash(message))
        }
    }

    // RFC 4231 §4.2 and §4.3.
    @Test func hmacSHA256MatchesRFC4231Cases1And2() {
        let case1 = HMACSHA256.authenticate(key: [UInt8](repeating: 0x0b, count: 20), text: "Hi There")
        #expect(Hex.encode(case1) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let case2 = HMACSHA256.authenticate(key: Array("Jefe".utf8), text: "what do ya want for nothing?")
        #expect(Hex.encode(case2) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hmacWithAnEmptyKeyAndMessageIsStillATag() {
        // Well-known HMAC-SHA256("", "").
        #expect(
            Hex.encode(HMACSHA256.authenticate(key: [], data: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    // RFC 7914 §12, first and second vectors.
    @Test func scryptMatchesRFC7914Vectors() throws {
        let first = try Scrypt.derive(password: [], salt: [], n: 16, r: 1, p: 1, length: 64)
        #expect(
            first
                == hex(
                    """
                    77 d6 57 62 38 65 7b 20 3b 19 ca 42 c1 8a 04 97 f1 6b 48 44 e3 07 4a e8 df df fa 3f ed e2 14 42
                    fc d0 06 9d ed 09 48 f8 32 6a 75 3a 0f c8 1f 17 e8 d3 e0 fb 2e 0d 36 28 cf 35 e2 0c 38 d1 89 06
                    """))
        let second = try Scrypt.derive(
            password: Array("password".utf8), salt: Array("NaCl".utf8), n: 1024, r: 8, p: 16, length: 64)
        #expect(
            second
                == hex(
                    """
                    fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe 7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62
                    2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40
                    """))
    }

    @Test func scryptRefusesBadParameters() {
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [1], salt: [1], n: 15, r: 1, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [1], salt: [1], n: 1, r: 1, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [1], salt: [1], n: 16, r: 0, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [1], salt: [1], n: 16, r: 1, p: 1, length: 0) }
        #expect(throws: CryptoError.self) {
            try Scrypt.derive(password: [1], salt: [1], n: 1 << 40, r: 8, p: 1, length: 32)
        }
    }

    // RFC 4648 §10, in the URL-safe alphabet without padding.
    @Test func base64URLMatchesRFC4648Vectors() throws {
        let vectors = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(try Base64URL.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64URL.encode([0xfb, 0xff, 0xbf]) == "-_-_")
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(try Base64URL.decode("-_8") == [0xfb, 0xff])
    }

    @Test func base64URLRefusesPaddingForeignAlphabetAndNonCanonicalInput() {
        for bad in ["Zg==", "+/8", "Z", "Zm9v Yg", "Zh", "Zm9vYmE=", "é"] {
            #expect(throws: CryptoError.self, "\(bad)") { try Base64URL.decode(bad) }
        }
    }

    @Test func base64URLRoundTripsEveryLengthAndByte() throws {
        var bytes: [UInt8] = []
        for i in 0..<300 {
            #expect(try Base64URL.decode(Base64URL.encode(bytes)) == bytes)
            bytes.append(UInt8(truncatingIfNeeded: i &* 151 &+ 7))
        }
    }

    @Test func hexRoundTripsAndRefusesBadInput() throws {
        #expect(Hex.encode([0x00, 0x01, 0xab, 0xff]) == "0001abff")
        #expect(try Hex.decode("0001ABff") == [0x00, 0x01, 0xab, 0xff])
        #expect(try Hex.decode("") == [])
        #expect(throws: CryptoError.self) { try Hex.decode("abc") }
        #expect(throws: CryptoError.self) { try Hex.decode("zz") }
    }

    @Test func constantTimeEqualsComparesContentAndLength() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
    }

    @Test func secureRandomGivesTheRequestedLengthAndDiffers() {
        #expect(SecureRandom.bytes(0).isEmpty)
        let a = SecureRandom.bytes(32)
        let b = SecureRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32)
        #expect(a != b)
    }
}
