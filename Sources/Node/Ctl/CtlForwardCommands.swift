/// `warren ctl forward add|list|remove`: forwarding rules through proxy endpoints.
enum CtlForwardCommands {
    static func table(_ rules: [ForwardRule]) -> TextTable {
        var table = TextTable(["ID", "ENDPOINT", "KIND", "LISTEN", "TARGET", "CREATED"])
        for r in rules {
            table.add([
                r.id, r.endpointId, r.kind.rawValue, String(r.listenPort), r.target, CtlTime.rfc3339(ms: r.createdAt),
            ])
        }
        return table
    }
}

enum CtlForwardAddCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "forward", "add"],
        summary: "Add a local (ssh -L like) or remote (ssh -R like) forward through an endpoint.",
        details: """
            --local: gateway port --listen → --to HOST:PORT in the endpoint's scope.
            --remote: connector-side port --listen → --to HOST:PORT on the gateway's side.

            Example: warren ctl forward add e-1a2b3c4d5e6f --local --listen 15432 --to 10.1.2.3:5432
            """,
        flags: [
            .bool("local", "Gateway port to a target in the endpoint's scope."),
            .bool("remote", "Connector-side port to a gateway-side target."),
            .value("listen", "PORT", "Listener port.", required: true),
            .value("to", "HOST:PORT", "Where connections go.", required: true),
        ],
        positionals: "ENDPOINT_ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let endpoint = try CtlArguments.positional(args, "an ENDPOINT_ID")
        let kind = try CtlArguments.exactlyOne(args, ["local", "remote"])
        let port = try CtlArguments.port(try args.require("listen"), flag: "--listen")
        let target = try CtlArguments.hostPort(try args.require("to"), flag: "--to")
        let bytes = try CtlClient.forCommand(args).call(
            "POST", "/v1/forwards", body: ["endpointId": endpoint, "kind": kind, "listenPort": port, "target": target])
        try CtlOutput.emit(bytes, args, as: ForwardRule.self) { r in
            "Added \(r.kind.rawValue) forward \(r.id): port \(r.listenPort) → \(r.target) via endpoint \(r.endpointId).\n"
        }
        return 0
    }
}

enum CtlForwardListCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "forward", "list"], summary: "List forwarding rules.",
        flags: [.value("endpoint", "ID", "Only this endpoint's rules.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let endpoint = try CtlArguments.optionalName(args, "endpoint")
        let bytes = try CtlClient.forCommand(args).call(
            "GET", "/v1/forwards" + CtlArguments.query([("endpoint", endpoint)]))
        try CtlOutput.emit(bytes, args, as: [ForwardRule].self) { CtlForwardCommands.table($0).render() }
        return 0
    }
}

enum CtlForwardRemoveCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "forward", "remove"], summary: "Remove a forwarding rule.", positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a forward ID")
        let bytes = try CtlClient.forCommand(args).call("DELETE", "/v1/forwards/\(id)")
        try CtlOutput.emit(bytes, args, line: "Removed forward \(id).")
        return 0
    }
}
