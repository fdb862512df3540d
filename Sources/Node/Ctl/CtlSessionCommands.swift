/// `warren ctl sessions list|kill` and `node drain`.
typealias CtlSessionList = AdminAPI.SessionListView

extension AdminAPI.SessionListView {
    func render(now: Int64) -> String {
        var table = TextTable(["ID", "TUNNEL", "MAPPING", "NODE", "SOURCE", "TARGET", "AGE", "IN", "OUT"])
        for s in sessions {
            table.add([
                s.id, s.tunnelId, s.mappingId, s.node, s.source, s.target, CtlSessionCommands.age(now - s.openedAt),
                "\(s.bytesIn)", "\(s.bytesOut)",
            ])
        }
        var text = table.render()
        let missing = nodes.filter { !$0.ok }
        for node in missing { text += "warning: node \(node.node) did not answer: \(node.error ?? "no reason")\n" }
        return text
    }
}

enum CtlSessionCommands {
    /// `12s`, `5m03s`, `2h04m`.
    static func age(_ ms: Int64) -> String {
        let s = max(0, ms / 1000)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
    }
}

enum CtlSessionsListCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "sessions", "list"],
        summary: "Live sessions on every node (each listed at the node holding its connector session).",
        details: "Nodes that do not answer are named after the table (and in --json \"nodes\" with ok false).",
        flags: [.value("tunnel", "ID", "Only this tunnel's sessions.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let tunnel = try CtlArguments.optionalName(args, "tunnel")
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/sessions" + CtlArguments.query([("tunnel", tunnel)]))
        try CtlOutput.emit(bytes, args, as: CtlSessionList.self) { $0.render(now: CtlTime.nowMillis()) }
        return 0
    }
}

enum CtlSessionsKillCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "sessions", "kill"], summary: "End one live session (its client and target are disconnected).",
        positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        guard let id = args.positionals.first else {
            throw ArgumentError.missingFlag("a session ID (from sessions list)", command: args.displayName)
        }
        guard args.positionals.count == 1 else {
            throw ArgumentError.unexpectedArgument(args.positionals[1], command: args.displayName)
        }
        guard let parts = TunnelHub.parseSessionID(id), (try? Validation.name(parts.node, "node")) != nil,
            (try? Validation.name(parts.key, "session")) != nil
        else {
            throw ArgumentError.invalidValue("a session ID", id, expected: "KEY-STREAM@NODE, as sessions list shows it")
        }
        let bytes = try CtlClient.forCommand(args).call("DELETE", "/v1/sessions/\(CtlArguments.queryEscaped(id))")
        try CtlOutput.emit(bytes, args, line: "Ended session \(id).")
        return 0
    }
}

enum CtlNodeDrainCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "node", "drain"],
        summary: "Drain a node: it owns no tunnels and its connectors re-home; its listeners keep relaying.",
        details: """
            Then stop the node, upgrade it, start it, and put it back in service:
              warren ctl node drain n2 --undo
            Sessions held by other nodes are not disturbed (docs/OPERATIONS.md, section 16).
            """,
        flags: [.bool("undo", "Put the node back in service (it owns tunnels again).")],
        positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.name(try CtlArguments.positional(args, "a node ID"), "a node ID")
        let draining = !args.bool("undo")
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/nodes/\(id)/drain", body: ["draining": draining])
        try CtlOutput.emit(bytes, args, line: draining ? "Node \(id) is draining." : "Node \(id) is back in service.")
        return 0
    }
}
