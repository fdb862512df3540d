import Testing

@testable import Node

/// The hand-written `audit.append` codec against `BinaryCodec`: the same bytes out, the
/// same command back, and anything it does not take left to the generic decoder.
@Suite("audit.append binary codec")
struct AuditAppendCodecTests {
    static let hostile = AuditCanonicalJSONTests.hostile + [String(repeating: "long ", count: 60)]
    static let integers: [Int64] = [0, 1, -1, 63, 64, -64, -65, 127, 128, 1_700_000_000_000, .max, .min]

    static func command(_ random: inout SplitMix64, events: Int) -> ControlCommand {
        func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &random)] }
        func principal() -> Principal { Principal(pick(Principal.Kind.allCases), pick(hostile)) }
        let records = (0..<events).map { _ in
            OpPayload.AuditEvent(
                at: pick(integers), actor: principal(), source: pick(hostile), action: pick(hostile),
                object: pick(hostile), outcome: pick(AuditRecord.Outcome.allCases), detail: pick(hostile))
        }
        var command = ControlCommand(
            at: pick(integers), actor: principal(), node: pick(hostile), source: pick(hostile),
            op: .auditAppend(.init(records: records)))
        if Int.random(in: 0..<8, using: &random) == 0 { command.v = Int(pick(integers)) }
        return command
    }

    @Test func writesExactlyWhatBinaryCodecWritesAndReadsItBack() throws {
        var random = SplitMix64(seed: 0xA0D1_7000)
        for n in 0..<400 {
            let command = Self.command(&random, events: n % 7 == 0 ? 0 : Int.random(in: 1...30, using: &random))
            guard case .auditAppend(let payload) = command.op else { preconditionFailure() }
            let generic = try BinaryCodec.encode(command)
            #expect(AuditAppendCodec.encode(command, payload) == generic, "\(command)")
            #expect(AuditAppendCodec.decode(generic[...]) == command, "\(command)")
            #expect(try BinaryCodec.decode(ControlCommand.self, from: generic[...]) == command)
            // Through the envelope: what the Raft log holds, and what apply reads.
            let entry = command.encoded()
            #expect(entry == [ControlCommand.binaryFormat] + generic)
            #expect(ControlCommand.decode(entry) == (command.v == ControlCommand.version ? command : nil))
        }
    }

    @Test func bytesItDoesNotTakeAreLeftToTheGenericDecoderAndItNeverDisagrees() throws {
        var random = SplitMix64(seed: 0xA0D1_7000)
        var taken = 0
        var refused = 0
        for _ in 0..<3000 {
            var bytes = try BinaryCodec.encode(Self.command(&random, events: Int.random(in: 1...4, using: &random)))
            for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                default: bytes.removeSubrange(at...)
                }
            }
            let fast = AuditAppendCodec.decode(bytes[...])
            let generic = try? BinaryCodec.decode(ControlCommand.self, from: bytes[...])
            if let fast {
                taken += 1
                #expect(fast == generic, "the fast decoder took bytes the generic one reads otherwise: \(bytes)")
            } else {
                refused += 1
            }
        }
        // Byte flips inside strings keep the layout: both paths are exercised.
        #expect(taken > 50 && refused > 100, "taken \(taken), refused \(refused)")
    }

    @Test func otherCommandsAreNotTaken() throws {
        let prune = ControlCommand(
            at: 5, actor: Principal(.node, "n1"), node: "n1", source: "", op: .auditPrune(.init(throughSeq: 3)))
        #expect(AuditAppendCodec.decode(try BinaryCodec.encode(prune)[...]) == nil)
        #expect(ControlCommand.decode(prune.encoded()) == prune)
    }
}
