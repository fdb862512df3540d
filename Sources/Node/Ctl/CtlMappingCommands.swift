/// `warren ctl mapping add|list|remove`.
enum CtlMappingCommands {
    static func table(_ mappings: [MappingRecord]) -> TextTable {
        var table = TextTable(["ID", "TUNNEL", "KIND", "TARGET", "LISTEN", "ALLOW", "CREATED"])
        for m in mappings {
            table.add([
                m.id, m.tunnelId, m.kind.rawValue, m.target, String(m.listenPort),
                m.allow.isEmpty ? "any" : m.allow.joined(separator: ","), CtlTime.rfc3339(ms: m.createdAt),
            ])
        }
        return table
    }
}

enum CtlMappingAddCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "mapping", "add"],
        summary: "Allow one application across a tunnel (anything not mapped is refused).",
        details: """
            --expose HOST:PORT: an app on the connector's side, reachable at gateway port --listen.
            --publish HOST:PORT: an app on the gateway's side, reachable at port --listen on the
            connector's host. --allow limits which client addresses may connect (default any).

            Example: warren ctl mapping add t-5f2a9c1e7b3d --expose 10.0.0.5:22 --listen 2222 --allow 192.0.2.0/24
            """,
        flags: [
            .value("expose", "HOST:PORT", "Connector-side app to expose at the gateway."),
            .value("publish", "HOST:PORT", "Gateway-side app to publish at the connector."),
            .value("listen", "PORT", "Listener port.", required: true),
            .list("allow", "CIDR", "Client networks allowed (default any)."),
        ],
        positionals: "TUNNEL_ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let tunnel = try CtlArguments.positional(args, "a TUNNEL_ID")
        let kind = try CtlArguments.exactlyOne(args, ["expose", "publish"])
        let target = try CtlArguments.hostPort(try args.require(kind), flag: "--\(kind)")
        let port = try CtlArguments.port(try args.require("listen"), flag: "--listen")
        let allow = try CtlArguments.cidrs(args, "allow")
        let bytes = try CtlClient.forCommand(args).call(
            "POST", "/v1/mappings",
            body: ["tunnelId": tunnel, "kind": kind, "target": target, "listenPort": port, "allow": allow])
        try CtlOutput.emit(bytes, args, as: MappingRecord.self) { m in
            "Added mapping \(m.id): \(m.kind.rawValue) \(m.target) on port \(m.listenPort) of tunnel \(m.tunnelId).\n"
        }
        return 0
    }
}

enum CtlMappingListCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "mapping", "list"], summary: "List mappings.",
        flags: [.value("tunnel", "ID", "Only this tunnel's mappings.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let tunnel = try CtlArguments.optionalName(args, "tunnel")
        let bytes = try CtlClient.forCommand(args).call(
            "GET", "/v1/mappings" + CtlArguments.query([("tunnel", tunnel)]))
        try CtlOutput.emit(bytes, args, as: [MappingRecord].self) { CtlMappingCommands.table($0).render() }
        return 0
    }
}

enum CtlMappingRemoveCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "mapping", "remove"], summary: "Remove a mapping.", positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a mapping ID")
        let bytes = try CtlClient.forCommand(args).call("DELETE", "/v1/mappings/\(id)")
        try CtlOutput.emit(bytes, args, line: "Removed mapping \(id).")
        return 0
    }
}
