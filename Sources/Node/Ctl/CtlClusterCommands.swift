/// `warren ctl status`, `members list|add|remove`, `leader transfer`.

/// The `/v1/status` answer, decoded with the same type the API encodes it with.
typealias CtlStatusView = AdminAPI.StatusView

extension AdminAPI.StatusView {
    var membersTable: TextTable {
        var table = TextTable(["ID", "KIND", "API", "PEER", "MATCH", "ACTIVE", "PLACEMENT", "SESSIONS", "LEADER"])
        for member in members.sorted(by: { $0.id < $1.id }) {
            table.add([
                member.id, member.voter ? "voter" : "learner", CtlOutput.orDash(member.api),
                CtlOutput.orDash(member.peer), member.match.map(String.init) ?? "-",
                member.active.map { $0 ? "yes" : "no" } ?? "-",
                member.draining == true ? "draining" : member.down == true ? "down" : "ready",
                member.sessions.map(String.init) ?? "-",
                member.id == leader ? "*" : "",
            ])
        }
        return table
    }

    /// `Trust: steady (CA …), 2 revoked serials`, or the overlap of a CA rotation.
    var trustLine: String {
        guard let trust else { return "" }
        let cas = trust.phase == "overlap" ? "old CA \(trust.cas.first ?? "?") → new CA \(trust.cas.last ?? "?")"
            : "CA \(trust.cas.first ?? "?")"
        return "Trust:       \(trust.phase) (\(cas)), \(trust.revokedSerials) revoked serials\n"
    }

    func render(now: Int64) -> String {
        """
        Node:        \(node) (\(role))
        Leader:      \(leader ?? "none known")
        Term:        \(term)
        Commit:      \(commitIndex)   Applied: \(appliedIndex)   Last: \(lastIndex)
        Certificate: serial \(certificate.serial), expires \(CtlTime.expiry(certificate.notAfter * 1000, now: now))
        \(trustLine)
        """ + membersTable.render()
    }
}

enum CtlStatusCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "status"],
        summary: "Cluster status: members, leader, term, commit/applied index, sessions per node, certificate.",
        details: "The answering node's view (linearizable). --json has \"leader\": \"n1\" (the node id).")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/status")
        try CtlOutput.emit(bytes, args, as: CtlStatusView.self) { $0.render(now: CtlTime.nowMillis()) }
        return 0
    }
}

enum CtlMembersListCommand: WarrenCommand {
    static let spec = CommandSpec(path: ["ctl", "members", "list"], summary: "List voters and learners.")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/members")
        try CtlOutput.emit(bytes, args, as: CtlStatusView.self) { $0.membersTable.render() }
        return 0
    }
}

enum CtlMembersAddCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "members", "add"],
        summary: "Add a node: registered, joined as a learner, promoted to voter once caught up.",
        details: """
            Start the new node with a config naming the cluster, then:
              warren ctl members add n4 --api 127.0.0.1:7444 --peer 127.0.0.1:7454 --mapping-host 127.0.0.4
            """,
        flags: [
            .value("api", "HOST:PORT", "The node's HTTPS (admin API) address.", required: true),
            .value("peer", "HOST:PORT", "The node's peer (Raft) address.", required: true),
            .value("mapping-host", "IP", "Address its mapping listeners bind (default 127.0.0.1)."),
        ],
        positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a node ID")
        let api = try CtlArguments.hostPort(try args.require("api"), flag: "--api")
        let peer = try CtlArguments.hostPort(try args.require("peer"), flag: "--peer")
        var body: [String: Any] = ["id": id, "api": api, "peer": peer]
        if let host = args.string("mapping-host") {
            body["mappingHost"] = try CtlArguments.ipAddress(host, flag: "--mapping-host")
        }
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/members", body: body)
        try CtlOutput.emit(bytes, args, as: CtlMessage.self) { "\($0.message)\n" }
        return 0
    }
}

enum CtlMembersRemoveCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "members", "remove"], summary: "Remove a node from the cluster.", positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.positional(args, "a node ID")
        let bytes = try CtlClient.forCommand(args).call("DELETE", "/v1/members/\(id)")
        try CtlOutput.emit(bytes, args, as: CtlMessage.self) { "\($0.message)\n" }
        return 0
    }
}

enum CtlLeaderTransferCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "leader", "transfer"],
        summary: "Hand leadership to another voter (default: the most caught-up one).",
        flags: [.value("to", "ID", "The node to lead next.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let to = try CtlArguments.optionalName(args, "to")
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/leader/transfer", body: ["to": to ?? ""])
        try CtlOutput.emit(bytes, args, as: CtlMessage.self) { "\($0.message)\n" }
        return 0
    }
}

/// `{"message": "..."}` answers (membership and leadership changes).
struct CtlMessage: Decodable, Sendable {
    var message: String
}
