/// `warren ctl snapshot save` and `auth rotate-key` (admin only).
enum CtlSnapshotSaveCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "snapshot", "save"],
        summary: "Save the whole replicated state (a backup) to FILE.",
        details: """
            Written atomically (temporary file, fsync, rename) with mode 0600: the snapshot holds
            password hashes and the JWT signing key. `warren restore` rebuilds a cluster from it.

            --stale reads the answering node's own applied state without asking the leader: the
            way to rescue the state from a surviving node when quorum is lost for good (it may miss
            the last changes the leader committed; use it against one --server, the most
            up-to-date survivor — see docs/OPERATIONS.md, "Disaster recovery").
            """,
        flags: [.bool("stale", "Read this node's applied state; works without a quorum.")],
        positionals: "FILE")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        guard let file = args.positionals.first else {
            throw ArgumentError.missingFlag("FILE", command: args.displayName)
        }
        guard args.positionals.count == 1 else {
            throw ArgumentError.unexpectedArgument(args.positionals[1], command: args.displayName)
        }
        let client = try CtlClient.forCommand(args)
        let writer = try AtomicFileWriter(path: file, mode: 0o600)
        var bytes = 0
        try client.download(args.bool("stale") ? "/v1/snapshot?stale=1" : "/v1/snapshot") { chunk throws(CtlError) in
            try writer.write(chunk)
            bytes += chunk.count
        }
        try writer.commit()
        if args.json {
            CtlOutput.write(CtlOutput.prettyJSON(object: ["file": file, "bytes": bytes] as [String: Any]))
        } else {
            CtlOutput.write("Saved the cluster state to \(file) (\(bytes) bytes).\n")
        }
        return 0
    }
}

enum CtlAuthRotateKeyCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "auth", "rotate-key"],
        summary: "Replace the JWT signing key: every token issued so far stops working.")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/auth/rotate-key", body: [:])
        try CtlOutput.emit(bytes, args, line: "Rotated the signing key: every user must sign in again.")
        return 0
    }
}
