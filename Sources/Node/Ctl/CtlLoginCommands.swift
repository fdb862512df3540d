import Foundation

/// `warren ctl login`: signs in with a user name and password and caches the token.
enum CtlLoginCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "login"],
        summary: "Sign in as a user; later ctl commands use the cached token.",
        details: """
            Asks for the password on the terminal (no echo), or reads one line from stdin with
            --password-stdin. Needs the cluster CA to check the servers: --ca FILE, or --pki DIR
            (its ca.pem). Saves {servers, caFile, token, user, role, expiresAt} to
            $WARREN_CONFIG_DIR/session.json or ~/.config/warren/session.json (mode 0600, folder
            0700). The token is never printed. --pki on a later command uses the admin
            certificate instead of the token.

            Example: echo "$PW" | warren ctl login --user alice --ca pki/ca.pem --password-stdin
            """,
        flags: [
            .value("user", "NAME", "User name.", required: true),
            .bool("password-stdin", "Read the password as one line from stdin."),
            .value("ca", "FILE", "CA certificate to trust (default: --pki DIR/ca.pem)."),
        ])

    private struct Answer: Decodable {
        var token: String
        var expiresAt: Int64
        var role: String
        var user: String
    }

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let user = try CtlArguments.name(try args.require("user"), "--user")
        guard let ca = args.string("ca") ?? args.pki.map({ "\($0)/ca.pem" }) else {
            throw ArgumentError.missingFlag("--ca FILE or --pki DIR", command: args.displayName)
        }
        let servers = try CtlClient.parseServers(args.servers.isEmpty ? CtlClient.defaultServerURLs : args.servers)
        let sessionPath = try CtlSessionFile.path()
        let client = CtlClient(servers: servers, tls: try CtlClient.trustingCA(ca), bearer: nil)
        let password = try CtlPassword.read(args, prompt: "Password for \(user): ")
        let bytes = try client.call("POST", "/v1/login", body: ["username": user, "password": password])
        let answer = try CtlOutput.decode(Answer.self, bytes)
        let session = CtlSession(
            servers: servers.map(\.url), caFile: CtlFiles.absolute(ca), token: answer.token, user: answer.user,
            role: answer.role, expiresAt: answer.expiresAt)
        try CtlSessionFile.save(session, to: sessionPath)
        if args.json {
            CtlOutput.write(
                CtlOutput.prettyJSON(
                    object: [
                        "user": answer.user, "role": answer.role, "expiresAt": answer.expiresAt,
                        "servers": session.servers, "sessionFile": sessionPath,
                    ] as [String: Any]))
        } else {
            let now = CtlTime.nowMillis()
            CtlOutput.write(
                "Signed in as \(answer.user) (\(answer.role)) until \(CtlTime.expiry(answer.expiresAt, now: now)).\n"
                    + "Session saved to \(sessionPath).\n")
        }
        return 0
    }
}

/// `warren ctl logout`: forgets the cached token.
enum CtlLogoutCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "logout"],
        summary: "Remove the cached session (the token itself stays valid until it expires).",
        details: """
            Deletes the session file written by warren ctl login. Tokens cannot be recalled one by
            one; warren ctl auth rotate-key invalidates every token issued so far.
            """)

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let path = try CtlSessionFile.path()
        let removed = try CtlSessionFile.remove(path)
        if args.json {
            CtlOutput.write(CtlOutput.prettyJSON(object: ["removed": removed, "sessionFile": path] as [String: Any]))
        } else {
            CtlOutput.write(removed ? "Signed out (removed \(path)).\n" : "Not signed in (no \(path)).\n")
        }
        return 0
    }
}
