#if canImport(Glibc)
import Glibc
#endif
import Tunnel

/// `warren relay`: stunnel's job on Warren's I/O core — a TLS relay for measuring the
/// core and for debugging. Runs until SIGINT or SIGTERM.
enum RelayCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["relay"],
        summary: "Relay TCP with TLS on one side (for measuring and debugging).",
        details: """
            --tls-client: accept plain TCP on --listen, connect to --to with mutual TLS 1.3,
            verifying the target's certificate against --ca and --server-name (default: the
            --to host). --tls-server: accept mutual TLS 1.3 on --listen (a client certificate
            signed by --ca is required), connect plain to --to.

            --mux (on both relays): instead of one TLS connection per relayed connection,
            the --tls-client relay keeps one long-lived mutual-TLS link per event loop (a
            WebSocket carrying the warren-mux.v1 stream multiplexer, as tunnels use) and
            carries every accepted connection as a stream on it; the --tls-server relay
            dials --to once per stream. A new connection then costs a stream open, not a
            TLS handshake, as with ssh -L. A dropped link is dialled again (its streams
            end); connections accepted meanwhile wait for it.

            Example:
              warren relay --tls-server --listen 127.0.0.1:9443 --to 127.0.0.1:8080 \\
                --ca pki/ca.pem --cert pki/n1.pem --key pki/n1-key.pem
              warren relay --tls-client --listen 127.0.0.1:8000 --to 127.0.0.1:9443 \\
                --ca pki/ca.pem --cert pki/n2.pem --key pki/n2-key.pem
            (add --mux to both for the multiplexed mode)
            """,
        flags: [
            .value("listen", "ADDR", "Address to accept on: HOST:PORT or [V6]:PORT.", required: true),
            .value("to", "ADDR", "Address to connect to.", required: true),
            .bool("tls-client", "Plain in, TLS out."),
            .bool("tls-server", "TLS in, plain out."),
            .value("ca", "FILE", "CA certificate(s) that sign the peer's certificate."),
            .value("cert", "FILE", "This side's certificate (PEM)."),
            .value("key", "FILE", "This side's private key (PEM)."),
            .value("server-name", "NAME", "Name the target's certificate must carry (--tls-client)."),
            .value("loops", "N", "Event loop threads (default: one per core)."),
            .value("busy-poll-us", "N", "Microseconds each event loop polls before sleeping after it found work (default \(EventLoop.defaultBusyPollMicros); 0 off)."),
            .list("peer-role", "ROLE", "Roles the peer certificate must name (node, admin, connector); default any."),
            .bool("resume", "TLS 1.3 session resumption (tickets): later handshakes skip certificates, as stunnel does."),
            .bool("mux", "Carry every connection as a stream over long-lived TLS links (set on both relays)."),
        ])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let listen = try SocketAddress(parsing: try args.require("listen"))
        let target = try SocketAddress(parsing: try args.require("to"))
        let isClient = args.bool("tls-client")
        let isServer = args.bool("tls-server")
        guard isClient != isServer else {
            throw ArgumentError.invalidValue(
                "--tls-client/--tls-server", isClient ? "both" : "neither", expected: "exactly one of them")
        }
        var tls = try TLSConfiguration.files(
            certificate: try args.require("cert"), key: try args.require("key"), ca: try args.require("ca"))
        tls.resumeSessions = args.bool("resume")
        for name in args.list("peer-role") {
            guard let role = CertificateRole(rawValue: name) else {
                throw ArgumentError.invalidValue("--peer-role", name, expected: "node, admin or connector")
            }
            tls.acceptedPeerRoles.insert(role)
        }
        let context = try TLSContext(tls, side: isClient ? .client : .server)
        let provider = TLSContextProvider(context)
        let mode: Relay.Mode =
            isClient ? .tlsClient(provider, serverName: args.string("server-name")) : .tlsServer(provider)
        let loops = try args.int("loops", default: EventLoopGroup.defaultLoopCount, in: 1...256)

        let signals = blockTerminationSignals()
        let busyPoll = try args.int("busy-poll-us", default: EventLoop.defaultBusyPollMicros, in: 0...10_000)
        let group = try EventLoopGroup(loopCount: loops, busyPollMicros: busyPoll)
        let port: UInt16
        let stop: () -> Void
        let served: () -> Int
        if args.bool("mux") {
            if isClient {
                let relay = try MuxRelayClient(
                    .init(listen: listen, server: target, serverName: args.string("server-name"), tls: provider),
                    group: group)
                (port, stop, served) = (relay.port, relay.stop, { relay.statistics.accepted.load })
            } else {
                let relay = try MuxRelayServer(listen: listen, target: target, tls: provider, group: group)
                (port, stop, served) = (relay.port, relay.stop, { relay.statistics.streamsOpened.load })
            }
        } else {
            let relay = try Relay(.init(listen: listen, target: target, mode: mode), group: group)
            (port, stop, served) = (relay.port, relay.stop, { relay.statistics.accepted.load })
        }
        let shown = listen.port == 0 ? "\(listen.host):\(port)" : "\(listen)"
        printErr("warren relay: \(isClient ? "plain" : "TLS") \(shown) → \(isClient ? "TLS" : "plain") \(target) "
            + "(\(args.bool("mux") ? "multiplexed, " : "")\(loops) loops, "
            + "certificate serial \(context.certificateSerialHex ?? "-"))")
        var signal: Int32 = 0
        var set = signals
        sigwait(&set, &signal)
        printErr("warren relay: signal \(signal), stopping (\(served()) connections served)")
        stop()
        group.shutdown()
        return 0
    }

    private static func blockTerminationSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return set
    }

    private static func printErr(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
