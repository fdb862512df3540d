#if canImport(Glibc)
import Glibc
#endif

/// `warren node`: runs one cluster node until SIGTERM or SIGINT, then stops gracefully
/// (hands leadership away if leading, closes the log) and exits 0.
enum NodeCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["node"],
        summary: "Run a cluster node.",
        details: """
            The config is JSON (docs/CONFIG.md); cluster-configs/ holds ready ones. Paths in it
            are relative to its folder; --pki and --data-dir override them.

            Example (the local 3-node cluster, one terminal each):
              warren pki init --out cluster-configs/local-3node/pki --nodes n1,n2,n3
              warren node --config cluster-configs/local-3node/n1.json
            """,
        flags: [
            .value("config", "FILE", "The node's JSON config.", required: true),
            .value("data-dir", "DIR", "Where the log and snapshots live (overrides the config)."),
            .value("log-level", "LEVEL", "debug, info, warn or error (default info)."),
        ])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let config = try NodeConfig.load(
            path: try args.require("config"), pkiOverride: args.string("pki"), dataDirOverride: args.string("data-dir"))
        let levelName = try args.choice("log-level", ["debug", "info", "warn", "error"], default: "info")
        let level: NodeLog.Level = ["debug": .debug, "info": .info, "warn": .warn, "error": .error][levelName]!
        let log = NodeLog(node: config.id, minimum: level)

        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let server: NodeServer
        do { server = try NodeServer(config: config, log: log) } catch {
            throw CommandError("node \(config.id) cannot start: \(error)")
        }
        var signal: Int32 = 0
        sigwait(&signals, &signal)
        log.info("signal received, stopping", ["signal": "\(signal)"])
        server.shutdown()
        return 0
    }
}
