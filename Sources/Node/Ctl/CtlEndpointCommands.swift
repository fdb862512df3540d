/// `warren ctl endpoint create|list|show|delete|associate|unassociate`.
enum CtlEndpointCommands {
    static func table(_ endpoints: [EndpointRecord]) -> TextTable {
        var table = TextTable(["ID", "NAME", "CONNECTOR", "VPC", "SUBNETS", "CREATED"])
        for e in endpoints {
            table.add([
                e.id, e.name, CtlOutput.orDash(e.connectorId), CtlOutput.orDash(e.vpc),
                e.subnets.isEmpty ? "-" : e.subnets.joined(separator: ","), CtlTime.rfc3339(ms: e.createdAt),
            ])
        }
        return table
    }

    /// `{vpc?, subnets}` from `--vpc` and `--subnet`.
    static func scope(_ args: ParsedArguments) throws(ArgumentError) -> [String: Any] {
        var body: [String: Any] = ["subnets": try CtlArguments.cidrs(args, "subnet")]
        if let vpc = try CtlArguments.optionalName(args, "vpc") { body["vpc"] = vpc }
        return body
    }

    static let scopeFlags: [FlagSpec] = [
        .value("vpc", "V", "VPC name."),
        .list("subnet", "CIDR", "IP subnets."),
    ]
}

enum CtlEndpointCreateCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "endpoint", "create"],
        summary: "Create a proxy endpoint for a network scope (a VPC and/or subnets).",
        details:
            "Example: warren ctl endpoint create vpc-a --connector c-1 --vpc vpc-a --subnet 10.1.0.0/16,10.2.0.0/16",
        flags: [.value("connector", "ID", "The connector acting as the jump point.")] + CtlEndpointCommands.scopeFlags,
        positionals: "NAME")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let name = try CtlArguments.positional(args, "an endpoint NAME")
        var body = try CtlEndpointCommands.scope(args)
        body["name"] = name
        if let connector = try CtlArguments.optionalName(args, "connector") { body["connectorId"] = connector }
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/endpoints", body: body)
        try CtlOutput.emit(bytes, args, as: EndpointRecord.self) { "Created endpoint \($0.id) (\($0.name)).\n" }
        return 0
    }
}

enum CtlEndpointListCommand: WarrenCommand {
    static let spec = CommandSpec(path: ["ctl", "endpoint", "list"], summary: "List proxy endpoints.")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/endpoints")
        try CtlOutput.emit(bytes, args, as: [EndpointRecord].self) { CtlEndpointCommands.table($0).render() }
        return 0
    }
}

enum CtlEndpointShowCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "endpoint", "show"], summary: "One endpoint with its forwarding rules.", positionals: "ID")

    private struct Detail: Decodable {
        var endpoint: EndpointRecord
        var forwards: [ForwardRule]
    }

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "an endpoint ID")
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/endpoints/\(id)")
        try CtlOutput.emit(bytes, args, as: Detail.self) { detail in
            CtlEndpointCommands.table([detail.endpoint]).render() + "\nForwarding rules:\n"
                + CtlForwardCommands.table(detail.forwards).render()
        }
        return 0
    }
}

enum CtlEndpointDeleteCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "endpoint", "delete"],
        summary: "Delete an endpoint (refused with has_rules while forwarding rules use it).", positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "an endpoint ID")
        let bytes = try CtlClient.forCommand(args).call("DELETE", "/v1/endpoints/\(id)")
        try CtlOutput.emit(bytes, args, line: "Deleted endpoint \(id).")
        return 0
    }
}

enum CtlEndpointAssociateCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "endpoint", "associate"], summary: "Add a VPC and/or subnets to an endpoint's scope.",
        flags: CtlEndpointCommands.scopeFlags, positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlEndpointScope.run(args, associate: true)
    }
}

enum CtlEndpointUnassociateCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "endpoint", "unassociate"], summary: "Remove a VPC and/or subnets from an endpoint's scope.",
        flags: CtlEndpointCommands.scopeFlags, positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlEndpointScope.run(args, associate: false)
    }
}

/// The shared body of `associate` and `unassociate`.
private enum CtlEndpointScope {
    static func run(_ args: ParsedArguments, associate: Bool) throws -> Int32 {
        let id = try CtlArguments.positional(args, "an endpoint ID")
        let body = try CtlEndpointCommands.scope(args)
        guard body["vpc"] != nil || !args.list("subnet").isEmpty else {
            throw ArgumentError.missingFlag("--vpc or --subnet", command: args.displayName)
        }
        let verb = associate ? "associate" : "unassociate"
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/endpoints/\(id)/\(verb)", body: body)
        try CtlOutput.emit(bytes, args, as: EndpointRecord.self) { e in
            "Endpoint \(e.id) scope: vpc \(CtlOutput.orDash(e.vpc)), subnets "
                + (e.subnets.isEmpty ? "-" : e.subnets.joined(separator: ",")) + ".\n"
        }
        return 0
    }
}
