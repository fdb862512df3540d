import Testing
@testable import Tunnel
@Test func nodeTestsLink() { #expect(TunnelModule.version.count > 0) }
