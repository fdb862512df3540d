/// `--help` texts, generated from the command table so they never drift from the parser.
extension ArgumentParser {
    /// One line for command groups (which have no spec of their own), by path.
    static let groupSummaries: [String: String] = [
        "pki": "The cluster CA and certificates"
    ]
    /// Groups too large to list their subcommands on one line.
    static let groupOneLiners: [String: String] = [
        "ctl": "The admin CLI: status, members, tunnels, mappings, endpoints, users, audit (warren ctl --help)."
    ]

    /// Help for a command or a group; nil when `path` names neither.
    func usage(for path: [String]) -> String? {
        if let leaf = spec(for: path) { return leafUsage(leaf) }
        let next = children(of: path)
        guard !next.isEmpty else { return nil }
        return groupUsage(path, next)
    }

    private func leafUsage(_ spec: CommandSpec) -> String {
        let globals = spec.requiredGlobals.compactMap { name in globalFlags.first { $0.name == name }?.synopsis }
        let required = globals + spec.flags.filter(\.isRequired).map(\.synopsis)
        var synopsis = ([spec.displayName] + required).joined(separator: " ")
        if spec.flags.contains(where: { !$0.isRequired }) { synopsis += " [flags]" }
        if let positionals = spec.positionals { synopsis += " \(positionals)" }
        var text = "Usage: \(synopsis)\n\n\(spec.summary)\n"
        if !spec.details.isEmpty { text += "\n\(spec.details)\n" }
        if !spec.flags.isEmpty { text += "\nFlags:\n" + table(spec.flags) }
        text += "\nGlobal flags (anywhere on the line):\n" + table(globalFlags)
        return text
    }

    private func groupUsage(_ path: [String], _ next: [String]) -> String {
        let name = (["warren"] + path).joined(separator: " ")
        var text = "Usage: \(name) <command> [flags]\n"
        if path.isEmpty {
            text = "warren — a clustered secure-tunnel gateway.\n\n" + text
        }
        text += "\nCommands:\n"
        let rows: [(String, String)] = next.map { word in
            let sub = path + [word]
            let list = children(of: sub).joined(separator: ", ")
            let key = sub.joined(separator: " ")
            let group =
                Self.groupOneLiners[key] ?? Self.groupSummaries[key].map { "\($0): \(list)." } ?? list
            let summary = spec(for: sub)?.summary ?? group
            return (word, summary)
        }
        text += columns(path.isEmpty ? rows + [("help", "Show help for a command: warren help pki init.")] : rows)
        text += "\nGlobal flags (anywhere on the line):\n" + table(globalFlags)
        text += "\nRun '\(name) <command> --help' for a command's flags.\n"
        return text
    }

    private func table(_ flags: [FlagSpec]) -> String {
        columns(flags.map { ($0.synopsis, $0.help + ($0.isRequired ? " (required)" : "")) })
    }

    private func columns(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { left, right in
            "  " + left + String(repeating: " ", count: width - left.count + 2) + right + "\n"
        }.joined()
    }
}
