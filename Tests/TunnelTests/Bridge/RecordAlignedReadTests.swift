import Testing

@testable import Tunnel

/// A full read's message (DATA frames + WebSocket header) must end on a TLS record boundary.
@Suite("Bridge record-aligned reads")
struct RecordAlignedReadTests {
    @Test func defaultReadFillsWholeRecordsOnBothSides() {
        for masked in [false, true] {
            let limit = MuxBridge.defaultStreamReadBytesMax
            let n = RecordAlignedRead.readBytes(limit: limit, frameBytesMax: 64 * 1024, masked: masked)
            let message = RecordAlignedRead.messageBytes(readBytes: n, frameBytesMax: 64 * 1024, masked: masked)
            #expect(message % RecordAlignedRead.tlsRecordBytes == 0)
            #expect(message == limit)  // 16 records: the tail record is gone, nothing else
            #expect(n == limit - 4 * MuxProtocol.headerBytes - (masked ? 14 : 10))
        }
    }

    @Test func messageBytesCountsHeaders() {
        // 256 KiB in 64 KiB frames: 4 mux headers and a 10-byte WebSocket header.
        #expect(RecordAlignedRead.messageBytes(readBytes: 262_144, frameBytesMax: 65_536, masked: false) == 262_202)
        #expect(RecordAlignedRead.messageBytes(readBytes: 100, frameBytesMax: 65_536, masked: true) == 100 + 12 + 2 + 4)
        #expect(RecordAlignedRead.messageBytes(readBytes: 1_000, frameBytesMax: 65_536, masked: false) == 1_000 + 12 + 4)
    }

    @Test func otherSizesAlignOrStayPut() {
        for frame in [16 * 1024, 20_000, 64 * 1024, 1 << 20] {
            for limit in [32 * 1024, 100_000, 128 * 1024, 256 * 1024, 1 << 20] {
                for masked in [false, true] {
                    let n = RecordAlignedRead.readBytes(limit: limit, frameBytesMax: frame, masked: masked)
                    #expect(n <= limit && n > limit - RecordAlignedRead.tlsRecordBytes)
                    let message = RecordAlignedRead.messageBytes(readBytes: n, frameBytesMax: frame, masked: masked)
                    #expect(message % RecordAlignedRead.tlsRecordBytes == 0 || n == limit)
                }
            }
        }
        // Below two records nothing is trimmed.
        #expect(RecordAlignedRead.readBytes(limit: 20_000, frameBytesMax: 65_536, masked: false) == 20_000)
    }
}
