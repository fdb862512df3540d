import Testing

@testable import Node

/// The stream descriptor's bytes: canonical JSON, memoised both ways without changing
/// what goes on the wire or what a peer's bytes mean.
@Suite("Stream descriptor encoding")
struct StreamDescriptorTests {
    @Test func encodingIsCanonicalJSONAndStableAcrossCalls() {
        let d = StreamDescriptor(tunnel: "t-1", mapping: "m-1", target: "10.0.0.1:80", kind: .publish)
        let expected = #"{"kind":"publish","mapping":"m-1","target":"10.0.0.1:80","tunnel":"t-1"}"#
        #expect(d.encoded == Array(expected.utf8))
        #expect(d.encoded == Array(expected.utf8), "the memoised bytes are the same")
        #expect(StreamDescriptor.decode(d.encoded) == d)
        #expect(StreamDescriptor.decode(d.encoded) == d, "a memoised decode gives the same value")
    }

    @Test func anotherSpellingDecodesToTheValueButNeverBecomesItsEncoding() {
        let spaced = Array(#"{ "tunnel": "t-2", "mapping": "m-2", "target": "10.0.0.2:22" }"#.utf8)
        let value = StreamDescriptor(tunnel: "t-2", mapping: "m-2", target: "10.0.0.2:22")
        #expect(StreamDescriptor.decode(spaced) == value)
        #expect(value.encoded == Array(#"{"mapping":"m-2","target":"10.0.0.2:22","tunnel":"t-2"}"#.utf8))
    }

    @Test func garbageAndOversizedBytesAreNotDescriptors() {
        #expect(StreamDescriptor.decode(Array("not json".utf8)) == nil)
        #expect(StreamDescriptor.decode([]) == nil)
        let long = Array(#"{"mapping":"m","target":"x","tunnel":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 1100)
            + Array(#""}"#.utf8)
        #expect(StreamDescriptor.decode(long) == nil)
    }

    @Test func theMemoStaysBoundedWhenAPeerSendsManyDifferentDescriptors() {
        for i in 0..<(StreamDescriptor.Memo.capacity * 2) {
            let d = StreamDescriptor(tunnel: "t", mapping: "m-\(i)", target: "10.0.0.1:\(i % 65_535 + 1)")
            #expect(StreamDescriptor.decode(d.encoded) == d)
        }
        let sizes = StreamDescriptor.memo.withLock { ($0.encoded.count, $0.decoded.count) }
        #expect(sizes.0 <= StreamDescriptor.Memo.capacity && sizes.1 <= StreamDescriptor.Memo.capacity)
    }
}
