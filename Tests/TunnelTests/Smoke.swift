import Testing
@testable import Tunnel
@Test func moduleHasVersion() { #expect(!TunnelModule.version.isEmpty) }
