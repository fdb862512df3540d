/// `warren ctl connector list|revoke`.
enum CtlConnectorCommands {
    static func table(_ connectors: [ConnectorRecord], now: Int64) -> TextTable {
        var table = TextTable(["ID", "NAME", "TUNNEL", "STATUS", "NODE", "CERT SERIAL", "CERT EXPIRES"])
        for c in connectors {
            table.add([
                c.id, c.name, c.tunnelId, c.revoked ? "revoked" : c.status.rawValue, CtlOutput.orDash(c.node),
                c.certificateSerial, CtlTime.expiry(c.certificateExpiresAt, now: now),
            ])
        }
        return table
    }
}

enum CtlConnectorListCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "connector", "list"], summary: "List enrolled connectors.",
        flags: [.value("tunnel", "ID", "Only this tunnel's connectors.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let tunnel = try CtlArguments.optionalName(args, "tunnel")
        let bytes = try CtlClient.forCommand(args).call(
            "GET", "/v1/connectors" + CtlArguments.query([("tunnel", tunnel)]))
        try CtlOutput.emit(bytes, args, as: [ConnectorRecord].self) {
            CtlConnectorCommands.table($0, now: CtlTime.nowMillis()).render()
        }
        return 0
    }
}

enum CtlConnectorRevokeCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "connector", "revoke"],
        summary: "Revoke a connector: its certificate serial joins the cluster's revocation list.", positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a connector ID")
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/connectors/\(id)/revoke", body: [:])
        try CtlOutput.emit(bytes, args, line: "Revoked connector \(id).")
        return 0
    }
}
