import Consensus
import Foundation

/// `warren restore`: seeds an empty data dir with a backup, so a whole cluster can be
/// rebuilt from `warren ctl snapshot save` (docs/OPERATIONS.md, "Restore").
enum RestoreCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["restore"],
        summary: "Seed a node's empty data dir from a backup (run on every member, then start them).",
        details: """
            Reads the backup written by `warren ctl snapshot save`, checks it (format and audit
            chain), and writes it as the first Raft snapshot of this node's data dir, which must
            be empty. Run it with the same FILE on every member listed in the config, before
            starting any of them; then start the nodes as usual with `warren node`. Member records
            of nodes not in the config are dropped. Nothing is changed if any check fails.

            Example (each of n1, n2, n3, data dirs wiped):
              warren restore --snapshot backup.json --config cluster-configs/local-3node/n1.json
              warren node --config cluster-configs/local-3node/n1.json
            """,
        flags: [
            .value("snapshot", "FILE", "The backup written by `warren ctl snapshot save`.", required: true),
            .value("config", "FILE", "The node's JSON config (the cluster's members come from it).", required: true),
            .value("data-dir", "DIR", "The data dir to seed (overrides the config); must be empty."),
        ])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let config = try NodeConfig.load(
            path: try args.require("config"), pkiOverride: args.string("pki"), dataDirOverride: args.string("data-dir"))
        guard !config.join else {
            throw CommandError(
                "\(config.id) is configured to join (\"join\": true): restore only the initial members; "
                    + "a joining node receives the state from the leader")
        }
        let file = try args.require("snapshot")
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CommandError("cannot read the backup \(file)")
        }
        let backup: ControlState
        do { backup = try ControlStateBackup.decode(Array(data)) } catch {
            throw CommandError("\(file): \(error.message)")
        }
        let plan = ControlStateBackup.plan(
            backup: backup, memberIDs: config.members.map(\.id), raftID: NodeIdentity.raftID)
        try seed(dataDir: config.dataDir, plan: plan)
        report(plan, file: file, config: config, json: args.json)
        return 0
    }

    /// Writes the plan's snapshot and the matching hard state into an empty data dir.
    static func seed(dataDir: String, plan: ControlStateBackup.Plan) throws {
        try FileManager.default.createDirectory(
            atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let store: FileLogStore
        do { store = try FileLogStore(directory: dataDir) } catch {
            throw CommandError("cannot open the data dir \(dataDir) (is a node running on it?): \(error)")
        }
        let persisted = try store.load()
        guard persisted.snapshot.index == 0, persisted.entries.isEmpty, persisted.hardState == HardState() else {
            try? store.close()
            throw CommandError(
                "the data dir \(dataDir) already holds a log (last snapshot \(persisted.snapshot.index), "
                    + "\(persisted.entries.count) entries): restore only into an empty data dir "
                    + "(move the old one away first)")
        }
        try store.saveSnapshot(plan.metadata, data: plan.snapshotBytes)
        try store.setHardState(HardState(term: plan.metadata.term, vote: 0, commit: plan.metadata.index))
        try store.sync()
        try store.close()
    }

    private static func report(_ plan: ControlStateBackup.Plan, file: String, config: NodeConfig, json: Bool) {
        let s = plan.state
        if json {
            let object: [String: Any] = [
                "node": config.id, "dataDir": config.dataDir, "snapshot": file,
                "members": config.members.map(\.id), "droppedMembers": plan.droppedMembers,
                "tunnels": s.tunnels.count, "mappings": s.mappings.count, "endpoints": s.endpoints.count,
                "users": s.users.count, "auditRecords": s.audit.records.count,
            ]
            CtlOutput.write(CtlOutput.prettyJSON(object: object))
            return
        }
        var text = """
            Restored \(file) into \(config.dataDir) for \(config.id):
              \(s.tunnels.count) tunnels, \(s.mappings.count) mappings, \(s.endpoints.count) endpoints, \
            \(s.users.count) users, \(s.audit.records.count) audit records (chain verified).
              Members: \(config.members.map(\.id).joined(separator: ", ")).

            """
        if !plan.droppedMembers.isEmpty {
            text += "  Dropped member records not in this config: \(plan.droppedMembers.joined(separator: ", ")).\n"
        }
        text += "Run the same restore on every other member, then start the nodes (warren node --config ...).\n"
        CtlOutput.write(text)
    }
}
