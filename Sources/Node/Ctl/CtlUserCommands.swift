/// `warren ctl user add|list|remove|set-role|set-password` (admin only).
enum CtlUserAddCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "user", "add"],
        summary: "Add a user with a role: admin, operator or auditor.",
        details: """
            Asks for the password twice on the terminal (no echo), or reads one line from stdin
            with --password-stdin. At least 8 characters.

            Example: printf '%s\\n' "$PW" | warren ctl user add alice --role operator --password-stdin
            """,
        flags: [
            .value("role", "ROLE", "admin, operator or auditor.", required: true),
            .bool("password-stdin", "Read the password as one line from stdin."),
        ],
        positionals: "NAME")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let name = try CtlArguments.positional(args, "a user NAME")
        let role = try args.choice("role", Role.allCases.map(\.rawValue), default: "")
        let client = try CtlClient.forCommand(args)
        let password = try CtlPassword.read(args, prompt: "Password for \(name): ", confirm: true)
        guard password.count >= 8 else { throw CtlError("the password must be at least 8 characters") }
        let bytes = try client.call("POST", "/v1/users", body: ["name": name, "role": role, "password": password])
        try CtlOutput.emit(bytes, args, line: "Added user \(name) (\(role)).")
        return 0
    }
}

enum CtlUserListCommand: WarrenCommand {
    static let spec = CommandSpec(path: ["ctl", "user", "list"], summary: "List users and their roles.")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("GET", "/v1/users")
        try CtlOutput.emit(bytes, args, as: [ControlState.UserView].self) { users in
            var table = TextTable(["NAME", "ROLE", "CREATED", "CREATED BY"])
            for u in users { table.add([u.name, u.role.rawValue, CtlTime.rfc3339(ms: u.createdAt), u.createdBy]) }
            return table.render()
        }
        return 0
    }
}

enum CtlUserRemoveCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "user", "remove"], summary: "Remove a user (not the last admin).", positionals: "NAME")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let name = try CtlArguments.positional(args, "a user NAME")
        let bytes = try CtlClient.forCommand(args).call("DELETE", "/v1/users/\(name)")
        try CtlOutput.emit(bytes, args, line: "Removed user \(name).")
        return 0
    }
}

enum CtlUserSetRoleCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "user", "set-role"],
        summary: "Change a user's role (the last admin stays admin).",
        details: """
            Takes effect at once on every node, also for the user's current sign-ins: a token
            acts with its user's role as the cluster has it now.

            Example: warren ctl user set-role alice --role auditor
            """,
        flags: [.value("role", "ROLE", "admin, operator or auditor.", required: true)],
        positionals: "NAME")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let name = try CtlArguments.positional(args, "a user NAME")
        let role = try args.choice("role", Role.allCases.map(\.rawValue), default: "")
        let bytes = try CtlClient.forCommand(args).call("PATCH", "/v1/users/\(name)", body: ["role": role])
        try CtlOutput.emit(bytes, args, line: "User \(name) is now \(role).")
        return 0
    }
}

enum CtlUserSetPasswordCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "user", "set-password"],
        summary: "Set a user's password; the user's earlier sign-ins stop working.",
        details: """
            Asks for the new password twice on the terminal (no echo), or reads one line from
            stdin with --password-stdin. At least 8 characters. Every token issued to the user
            before the change is refused from then on, on every node.

            Example: printf '%s\\n' "$PW" | warren ctl user set-password alice --password-stdin
            """,
        flags: [.bool("password-stdin", "Read the password as one line from stdin.")],
        positionals: "NAME")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let name = try CtlArguments.positional(args, "a user NAME")
        let client = try CtlClient.forCommand(args)
        let password = try CtlPassword.read(args, prompt: "New password for \(name): ", confirm: true)
        guard password.count >= 8 else { throw CtlError("the password must be at least 8 characters") }
        let bytes = try client.call("PATCH", "/v1/users/\(name)", body: ["password": password])
        try CtlOutput.emit(bytes, args, line: "Set the password of \(name); their earlier sign-ins no longer work.")
        return 0
    }
}

enum CtlPasswdCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "passwd"],
        summary: "Change your own password (any signed-in user).",
        details: """
            Asks for the current password, then the new one twice, on the terminal (no echo);
            with --password-stdin reads two lines: the current password, then the new one.
            Every earlier sign-in of yours stops working, this one included: sign in again.

            Example: printf '%s\\n%s\\n' "$OLD" "$NEW" | warren ctl passwd --password-stdin
            """,
        flags: [.bool("password-stdin", "Read the current and the new password as two lines from stdin.")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let client = try CtlClient.forCommand(args)
        let current = try CtlPassword.read(args, prompt: "Current password: ")
        let new = try CtlPassword.read(args, prompt: "New password: ", confirm: true)
        guard new.count >= 8 else { throw CtlError("the new password must be at least 8 characters") }
        let bytes = try client.call("POST", "/v1/whoami/password", body: ["current": current, "new": new])
        try CtlOutput.emit(bytes, args, line: "Password changed; sign in again with the new one.")
        return 0
    }
}
