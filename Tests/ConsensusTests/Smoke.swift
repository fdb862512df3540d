import Testing
@testable import Consensus
@Test func codecVersionIsOne() { #expect(ConsensusModule.codecVersion == 1) }
