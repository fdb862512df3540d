import Foundation

/// `warren ctl tunnel create|list|show|close`.
enum CtlTunnelCommands {
    static func table(_ tunnels: [TunnelRecord], now: Int64) -> TextTable {
        var table = TextTable(["ID", "NAME", "STATE", "OWNER", "CREATED", "EXPIRES"])
        for t in tunnels {
            let expires =
                t.state == .open
                ? CtlTime.expiry(t.expiresAt, now: now)
                : "closed \(CtlTime.rfc3339(ms: t.closedAt ?? 0)) (\(t.closeReason?.rawValue ?? "-"))"
            table.add([t.id, t.name, t.state.rawValue, t.owner, CtlTime.rfc3339(ms: t.createdAt), expires])
        }
        return table
    }
}

enum CtlTunnelCreateCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "tunnel", "create"],
        summary: "Create a tunnel; prints its connect URL once.",
        details: """
            The connect URL carries a one-time enrolment secret (only its hash is stored): it is
            shown once, here; hand it to the connector's operator over a private channel.
            --json prints the tunnel's fields with "id" and "connectUrl" at the top level.

            Example: warren ctl tunnel create vendor-support --duration 48h
            """,
        flags: [.value("duration", "D", "Lifetime: 24h (default), 48h, 90m, 3600s, 2d, up to the cluster maximum.")],
        positionals: "NAME")

    private struct Created: Decodable {
        var tunnel: TunnelRecord
        var connectUrl: String
    }

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let name = try CtlArguments.positional(args, "a tunnel NAME")
        let duration = try CtlArguments.duration(args.string("duration") ?? "24h")
        let bytes = try CtlClient.forCommand(args).call(
            "POST", "/v1/tunnels", body: ["name": name, "duration": duration])
        if args.json {
            // The API nests the tunnel; scripts want `id` and `connectUrl` side by side.
            var object = try CtlOutput.object(bytes)
            var merged = object["tunnel"] as? [String: Any] ?? [:]
            object["tunnel"] = nil
            merged.merge(object) { _, new in new }
            CtlOutput.write(CtlOutput.prettyJSON(object: merged))
            return 0
        }
        let created = try CtlOutput.decode(Created.self, bytes)
        let t = created.tunnel
        CtlOutput.write(
            """
            Created tunnel \(t.id) (\(t.name)), open, expires \(CtlTime.expiry(t.expiresAt, now: CtlTime.nowMillis())).

            Connect URL (shown only now; it carries a one-time secret, so share it privately):
              \(created.connectUrl)

            """)
        return 0
    }
}

enum CtlTunnelListCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "tunnel", "list"], summary: "List tunnels, oldest first.",
        flags: [.value("state", "STATE", "Only open or closed tunnels.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let state = args.string("state") == nil ? nil : try args.choice("state", ["open", "closed"], default: "open")
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/tunnels" + CtlArguments.query([("state", state)]))
        try CtlOutput.emit(bytes, args, as: [TunnelRecord].self) {
            CtlTunnelCommands.table($0, now: CtlTime.nowMillis()).render()
        }
        return 0
    }
}

enum CtlTunnelShowCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "tunnel", "show"], summary: "One tunnel with its mappings and connectors.", positionals: "ID")

    private struct Detail: Decodable {
        var tunnel: TunnelRecord
        var mappings: [MappingRecord]
        var connectors: [ConnectorRecord]
    }

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a tunnel ID")
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/tunnels/\(id)")
        try CtlOutput.emit(bytes, args, as: Detail.self) { detail in
            let now = CtlTime.nowMillis()
            return CtlTunnelCommands.table([detail.tunnel], now: now).render() + "\nMappings:\n"
                + CtlMappingCommands.table(detail.mappings).render() + "\nConnectors:\n"
                + CtlConnectorCommands.table(detail.connectors, now: now).render()
        }
        return 0
    }
}

enum CtlTunnelCloseCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "tunnel", "close"],
        summary: "Close a tunnel for good: every session through it ends.",
        details: """
            The answer comes once the close is committed by the cluster; a closed tunnel never
            reopens, and closing it again fails with already_closed. With --wait the answer also
            carries a termination receipt: every node confirms it applied the close and says how
            many sessions it ended and how many are left (none), bounded by --timeout. Exit
            status 1 when the receipt is incomplete (a node did not confirm in time).
            """,
        flags: [
            .bool("wait", "Wait until every node has ended the tunnel's sessions (see above)."),
            .value("timeout", "S", "Seconds to wait for the answer (default 10)."),
        ],
        positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a tunnel ID")
        let seconds = try args.int("timeout", default: 10, in: 1...3600)
        let client = try CtlClient.forCommand(args, timeoutMillis: seconds * 1000)
        guard args.bool("wait") else {
            let bytes = try client.call("POST", "/v1/tunnels/\(id)/close", body: [:])
            try CtlOutput.emit(bytes, args, as: TunnelRecord.self) {
                "Closed tunnel \($0.id) (\($0.name)) at \(CtlTime.rfc3339(ms: $0.closedAt ?? 0)).\n"
            }
            return 0
        }
        let bytes = try client.call(
            "POST", "/v1/tunnels/\(id)/close", body: ["wait": true, "timeoutSeconds": seconds])
        struct Receipt: Decodable {
            struct Node: Decodable {
                var node: String
                var confirmed: Bool
                var sessionsEnded: Int
                var liveSessions: Int
                var listeners: Int
                var error: String?
            }
            struct Body: Decodable {
                var complete: Bool
                var nodes: [Node]
            }
            var tunnel: TunnelRecord
            var receipt: Body
        }
        let answer = try CtlOutput.decode(Receipt.self, bytes)
        try CtlOutput.emit(bytes, args, as: Receipt.self) { r in
            var table = TextTable(["NODE", "CONFIRMED", "SESSIONS ENDED", "LIVE", "LISTENERS", "ERROR"])
            for n in r.receipt.nodes {
                table.add([
                    n.node, n.confirmed ? "yes" : "no", String(n.sessionsEnded), String(n.liveSessions),
                    String(n.listeners), CtlOutput.orDash(n.error),
                ])
            }
            return "Closed tunnel \(r.tunnel.id) (\(r.tunnel.name)) at \(CtlTime.rfc3339(ms: r.tunnel.closedAt ?? 0)); "
                + (r.receipt.complete ? "every node confirmed.\n" : "the receipt is INCOMPLETE.\n") + table.render()
        }
        return answer.receipt.complete ? 0 : 1
    }
}
