import Testing

@testable import Consensus

/// Byte-at-a-time reference, straight from the definition.
private func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// CRC-32C against known vectors and a byte-at-a-time reference.
@Suite struct StorageCRC32CTests {
    @Test func crc32cMatchesKnownVectors() {
        // RFC 3720 §B.4 and the common "123456789" check value.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func crc32cSlicingByEightAgreesWithReferenceAtEveryLength() {
        var rng = SplitMix64(state: 7)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(CRC32C.checksum(bytes) == referenceCRC32C(bytes), "length \(length)")
        }
    }

    @Test func crc32cContinuesAcrossPiecesWithSeed() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let a = CRC32C.checksum(bytes, range: 0..<split)
            #expect(CRC32C.checksum(bytes, range: split..<1000, seed: a) == CRC32C.checksum(bytes), "split \(split)")
        }
    }
}
