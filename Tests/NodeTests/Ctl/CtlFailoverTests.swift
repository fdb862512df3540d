import Foundation
import Synchronization
import Testing
import Tunnel

@testable import Node

/// A TLS HTTP server in this process that plays a node: `/healthz` answers, other
/// requests get `behaviour` (answer, 503, or no answer at all). Counts what it saw.
private final class FakeNode: Sendable {
    enum Behaviour: Sendable {
        case answer
        case unavailable
        case silent
    }

    /// What the handler saw and holds, shared with it.
    final class Record: Sendable {
        let seen = Mutex<[String]>([])
        /// Responders never answered (`.silent`), held so they are not dropped (which answers 500).
        let held = Mutex<[HTTPResponder]>([])
    }

    let group: EventLoopGroup
    let server: HTTPServer
    let record = Record()
    var seen: [String] { record.seen.withLock { $0 } }

    /// `dropFirst`: the first that many connections are closed as they arrive, before the
    /// TLS handshake — what a load balancer does while it has no healthy server (the
    /// node's PROXY-header check does the closing: those connections come from a "trusted
    /// balancer" that sent no header).
    init(_ behaviour: Behaviour, pki: String, dropFirst: Int = 0) throws {
        let accepted = Atomic<Int>(0)
        var tls = try TLSConfiguration.files(
            certificate: "\(pki)/n1.pem", key: "\(pki)/n1-key.pem", ca: "\(pki)/ca.pem")
        tls.clientAuth = .optional
        group = try EventLoopGroup(loopCount: 1)
        let record = self.record
        server = try HTTPServer(
            configuration: .init(
                listen: try SocketAddress(parsing: "127.0.0.1:0"),
                tls: TLSContextProvider(try TLSContext(tls, side: .server)),
                proxyProtocolFrom: { _ in accepted.add(1, ordering: .relaxed).newValue <= dropFirst }),
            group: group
        ) { request, responder in
            if request.path == "/healthz" { return responder.respond(.text("ok\n")) }
            record.seen.withLock { $0.append("\(request.method) \(request.path)") }
            switch behaviour {
            case .answer: responder.respond(.json(Array(#"{"message":"done"}"#.utf8)))
            case .unavailable: responder.respond(.error(503, code: "unavailable", message: "no leader known"))
            case .silent: record.held.withLock { $0.append(responder) }
            }
        }
    }

    var url: String { "https://127.0.0.1:\(server.port)" }

    func stop() {
        server.stop()
        group.shutdown()
    }
}

@Suite("Ctl failover", .serialized)
struct CtlFailoverTests {
    let pki: String

    init() throws {
        pki = FileManager.default.temporaryDirectory.appendingPathComponent("warren-ctl-fo-\(UUID().uuidString)").path
        _ = try PKIInitCommand.perform(
            .init(
                directory: pki, nodes: ["n1"], hosts: ["127.0.0.1"], days: 1, caDays: 1, caName: "test CA", force: false
            ),
            now: Int64(Date().timeIntervalSince1970) - 60)
    }

    private func client(_ nodes: [FakeNode], timeoutMillis: Int = 500) throws -> CtlClient {
        CtlClient(
            servers: try CtlClient.parseServers(nodes.map(\.url)), tls: try CtlClient.trustingCA("\(pki)/ca.pem"),
            bearer: nil, timeoutMillis: timeoutMillis)
    }

    @Test func aChangeSentToASilentNodeIsNotRetriedElsewhereAndSaysItMayHaveApplied() throws {
        defer { try? FileManager.default.removeItem(atPath: pki) }
        let silent = try FakeNode(.silent, pki: pki)
        let healthy = try FakeNode(.answer, pki: pki)
        defer {
            silent.stop()
            healthy.stop()
        }
        let error = #expect(throws: CtlError.self) {
            try client([silent, healthy]).call("POST", "/v1/tunnels/t-1/close", body: [:])
        }
        #expect(error?.message.contains("was sent to \(silent.url) but got no answer") == true)
        #expect(error?.message.contains("it may have been applied") == true)
        #expect(silent.seen == ["POST /v1/tunnels/t-1/close"])
        #expect(healthy.seen.isEmpty)
    }

    @Test func aReadFromASilentOrUnavailableNodeMovesOn() throws {
        defer { try? FileManager.default.removeItem(atPath: pki) }
        let silent = try FakeNode(.silent, pki: pki)
        let unavailable = try FakeNode(.unavailable, pki: pki)
        let healthy = try FakeNode(.answer, pki: pki)
        defer {
            for node in [silent, unavailable, healthy] { node.stop() }
        }
        let bytes = try client([silent, unavailable, healthy]).call("GET", "/v1/status")
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"message":"done"}"#)
        #expect(healthy.seen == ["GET /v1/status"])
        #expect(unavailable.seen == ["GET /v1/status"])
    }

    @Test func aChangeRefusedWith503IsNotRetriedAndWarnsItMayStillApply() throws {
        defer { try? FileManager.default.removeItem(atPath: pki) }
        let unavailable = try FakeNode(.unavailable, pki: pki)
        let healthy = try FakeNode(.answer, pki: pki)
        defer {
            unavailable.stop()
            healthy.stop()
        }
        let error = #expect(throws: CtlError.self) {
            try client([unavailable, healthy]).call("POST", "/v1/tunnels", body: ["name": "x"])
        }
        #expect(error?.status == 503 && error?.apiCode == "unavailable")
        #expect(error?.message.contains("the change may still be applied") == true)
        #expect(healthy.seen.isEmpty)
    }

    @Test func aBalancerDroppingConnectionsForAMomentIsTriedAgainAndTheChangeAppliesOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: pki) }
        let balancer = try FakeNode(.answer, pki: pki, dropFirst: 2)
        defer { balancer.stop() }
        let bytes = try client([balancer]).call("POST", "/v1/tunnels", body: ["name": "x"])
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"message":"done"}"#)
        #expect(balancer.seen == ["POST /v1/tunnels"])
        #expect(balancer.server.statistics.proxyHeaderFailures.load == 2)

        // Dropped every time: the error names the handshake close, once.
        let gone = try FakeNode(.answer, pki: pki, dropFirst: 100)
        defer { gone.stop() }
        let impatient = try client([gone])
        impatient.probePausesMillis = [10, 10]
        let error = #expect(throws: CtlError.self) { try impatient.call("POST", "/v1/tunnels", body: ["name": "x"]) }
        #expect(error?.message.contains("no server answered: \(gone.url): TLS handshake with") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("the connection was closed before the handshake finished") == true)
        #expect(gone.seen.isEmpty)
        #expect(gone.server.statistics.proxyHeaderFailures.load == 3)
    }

    @Test func aServerWithAnUntrustedCertificateIsSkippedBeforeAnythingIsSent() throws {
        defer { try? FileManager.default.removeItem(atPath: pki) }
        let otherPKI = pki + "-other"
        defer { try? FileManager.default.removeItem(atPath: otherPKI) }
        _ = try PKIInitCommand.perform(
            .init(
                directory: otherPKI, nodes: ["n1"], hosts: ["127.0.0.1"], days: 1, caDays: 1, caName: "other CA",
                force: false),
            now: Int64(Date().timeIntervalSince1970) - 60)
        let stranger = try FakeNode(.answer, pki: otherPKI)
        let healthy = try FakeNode(.answer, pki: pki)
        defer {
            stranger.stop()
            healthy.stop()
        }
        _ = try client([stranger, healthy]).call("POST", "/v1/tunnels", body: ["name": "x"])
        #expect(stranger.seen.isEmpty)
        #expect(healthy.seen == ["POST /v1/tunnels"])
    }
}
