#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Tunnel

/// `warren connector`: enrols once with a connect URL, then holds a session to the
/// cluster and carries the tunnel's mapped streams until SIGINT/SIGTERM, or until the
/// cluster closes the tunnel or revokes the connector (then it exits 3 and says why).
enum ConnectorCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["connector"],
        summary: "Run a connector inside a private network (enrol once, then carry the tunnel).",
        details: """
            The first run enrols with the connect URL's one-time secret: it checks the cluster
            CA against the fingerprint in the URL, sends a certificate request, and stores the
            identity in --state-dir (key mode 0600). Later runs reuse it; the URL is then not
            needed. It dials out over HTTPS (mutual TLS, WebSocket) to the URL's host, then to
            the other nodes it learnt, with jittered backoff.

            Publish mappings and remote forwards of the tunnel listen on this host (--bind);
            the connector learns of new ones while it runs. With --proxy every connection to
            the cluster is an HTTP CONNECT tunnel through the proxy; a 407 means the proxy
            wants credentials in the URL.

            Example:
              warren connector --url 'https://gw.example.com:7441/v1/connect/t-…?token=…&ca=sha256:…' \\
                --state-dir /var/lib/warren-connector
            """,
        flags: [
            .value("url", "CONNECT_URL", "The connect URL from 'warren ctl tunnel create' (first run)."),
            .value("state-dir", "DIR", "Where the identity lives (default ./warren-connector)."),
            .value("name", "NAME", "A name for this connector (default: the host name)."),
            .value("proxy", "URL", "An HTTP CONNECT egress proxy, http://[USER:PASSWORD@]HOST:PORT (TLS stays end to end)."),
            .value("bind", "HOST", "Where publish mappings and remote forwards listen (default 127.0.0.1)."),
            .value("log-level", "LEVEL", "debug, info, warn or error (default info)."),
            .value("busy-poll-us", "N", "Microseconds each event loop polls before sleeping after it found work (default \(EventLoop.defaultBusyPollMicros); 0 off)."),
        ])

    /// Exit status when the cluster ended the connector for good (closed, revoked).
    static let endedExitStatus: Int32 = 3

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let stateDir = args.string("state-dir") ?? "warren-connector"
        let levelName = try args.choice("log-level", ["debug", "info", "warn", "error"], default: "info")
        let level: NodeLog.Level = ["debug": .debug, "info": .info, "warn": .warn, "error": .error][levelName]!
        let log = NodeLog(node: "connector", minimum: level)
        var proxy: HTTPConnectProxy?
        if let text = args.string("proxy") {
            do { proxy = try HTTPConnectProxy(url: text) } catch { throw CommandError("--proxy: \(error)") }
        }
        let bindHost = args.string("bind") ?? "127.0.0.1"
        guard (try? SocketAddress(parsing: (bindHost.contains(":") ? "[\(bindHost)]" : bindHost) + ":0")) != nil else {
            throw CommandError("--bind: \(bindHost) is not an IP address or a resolvable host name")
        }
        var identity = try ConnectorIdentity.load(stateDir)
        if identity == nil {
            guard let text = args.string("url") else {
                throw CommandError("no identity in \(stateDir): pass --url CONNECT_URL to enrol")
            }
            let url: ConnectURL
            do { url = try ConnectURL(parsing: text) } catch { throw CommandError("\(error)") }
            let name = args.string("name") ?? ProcessInfo.processInfo.hostName.prefix(64).description
            identity = try ConnectorEnrolment.enrol(url, name: sanitized(name), stateDir: stateDir, log: log, proxy: proxy)
        }
        guard let identity else { return 1 }
        let certificate = try Certificate(pem: try PKIFile.readText(ConnectorIdentity.paths(stateDir).certificate))
        if let expired = ConnectorRenewal.expiredMessage(certificate, now: Int64(Date().timeIntervalSince1970)) {
            CLI.printError("warren connector: \(expired)")
            return endedExitStatus
        }

        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let runtime = try ConnectorRuntime(
            identity: identity, stateDir: stateDir, log: log, bindHost: bindHost, proxy: proxy,
            busyPollMicros: try args.int("busy-poll-us", default: EventLoop.defaultBusyPollMicros, in: 0...10_000))
        let blocked = signals
        Thread.detachNewThread {
            var set = blocked
            var signal: Int32 = 0
            sigwait(&set, &signal)
            runtime.stop(reason: "signal \(signal)")
        }
        let reason = runtime.run()
        if ConnectorRuntime.isFinal(reason) {
            CLI.printError("warren connector: \(reason). Ask an operator for a new connect URL if access is still needed.")
            return endedExitStatus
        }
        return 0
    }

    private static func sanitized(_ name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        let cleaned = String(name.filter { allowed.contains($0) }.prefix(64))
        return cleaned.isEmpty ? "connector" : cleaned
    }
}
