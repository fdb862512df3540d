/// Parses `warren` command lines against a table of `CommandSpec`s. Pure: no I/O.
///
/// Grammar: leading words select a command (`pki init`); `--flag value`, `--flag=value`,
/// boolean `--flag`, repeated and comma-separated list flags; global flags (`--json`,
/// `--server`, `--pki`, `--help`/`-h`) anywhere, even before the command words; `--` ends
/// flags. Anything unknown is an error naming it.
struct ArgumentParser: Sendable {
    /// What the command line asks for.
    enum Outcome: Sendable, Equatable {
        /// Run the command at `args.commandPath`.
        case run(ParsedArguments)
        /// Show help for a command or command group (`--help`, `-h`, `warren help ...`).
        case help(path: [String])
    }

    let commands: [CommandSpec]
    let globalFlags: [FlagSpec]

    init(commands: [CommandSpec], globalFlags: [FlagSpec] = GlobalFlags.all) {
        let paths = commands.map(\.path)
        precondition(Set(paths.map { $0.joined(separator: " ") }).count == paths.count, "duplicate command path")
        self.commands = commands
        self.globalFlags = globalFlags
    }

    /// Parses the arguments after the program name.
    func parse(_ argv: [String]) throws(ArgumentError) -> Outcome {
        let beforeDashDash = argv.prefix { $0 != "--" }
        if beforeDashDash.contains("-h") || beforeDashDash.contains("--help") { return helpOutcome(beforeDashDash) }
        var state = ParseState()
        var index = 0
        while index < argv.count {
            let token = argv[index]
            index += 1
            if state.flagsEnded {
                try addPositional(token, &state)
            } else if token == "--" {
                state.flagsEnded = true
            } else if token.hasPrefix("-") && token != "-" {
                try parseFlag(token, argv, &index, &state)
            } else {
                try addPositional(token, &state)
            }
        }
        return try finish(state)
    }

    /// Child words of a command group, in table order (e.g. `["init", "issue"]` for `pki`).
    func children(of path: [String]) -> [String] {
        var out: [String] = []
        for spec in commands where spec.path.count > path.count && Array(spec.path.prefix(path.count)) == path {
            let word = spec.path[path.count]
            if !out.contains(word) { out.append(word) }
        }
        return out
    }

    /// The spec whose path is exactly `path`.
    func spec(for path: [String]) -> CommandSpec? { commands.first { $0.path == path } }

    /// `--help` wins over every other problem on the line: the command words select the
    /// topic, everything else is ignored, so `warren pki init --bogus --help` shows help.
    private func helpOutcome(_ argv: ArraySlice<String>) -> Outcome {
        var path: [String] = []
        for word in argv where !word.hasPrefix("-") {
            if path.isEmpty && word == "help" { continue }
            if children(of: path).contains(word) { path.append(word) }
        }
        return .help(path: path)
    }

    private struct ParseState {
        var args = ParsedArguments()
        var flagsEnded = false
        var helpTopic: [String]? = nil  // set by `warren help WORDS...`
    }

    private func display(_ path: [String]) -> String { (["warren"] + path).joined(separator: " ") }

    private func addPositional(_ word: String, _ state: inout ParseState) throws(ArgumentError) {
        if state.helpTopic != nil {
            state.helpTopic!.append(word)
            return
        }
        let path = state.args.commandPath
        if state.args.positionals.isEmpty && !state.flagsEnded {
            if path.isEmpty && word == "help" {
                state.helpTopic = []
                return
            }
            let next = children(of: path)
            if next.contains(word) {
                state.args.commandPath.append(word)
                return
            }
            if spec(for: path) == nil {
                throw .unknownCommand(word, command: display(path), choices: next)
            }
        }
        guard let leaf = spec(for: path), leaf.positionals != nil else {
            throw .unexpectedArgument(word, command: display(path))
        }
        state.args.positionals.append(word)
    }

    private func parseFlag(
        _ token: String, _ argv: [String], _ index: inout Int, _ state: inout ParseState
    ) throws(ArgumentError) {
        guard token.hasPrefix("--") else { throw .unknownFlag(token, command: display(state.args.commandPath)) }
        let body = token.dropFirst(2)
        let name = String(body.prefix { $0 != "=" })
        let inline: String? = body.contains("=") ? String(body.drop { $0 != "=" }.dropFirst()) : nil
        let leafFlags = spec(for: state.args.commandPath)?.flags ?? []
        guard let flag = globalFlags.first(where: { $0.name == name }) ?? leafFlags.first(where: { $0.name == name })
        else { throw .unknownFlag("--\(name)", command: display(state.args.commandPath)) }
        switch flag.kind {
        case .bool:
            guard inline == nil || inline == "true" || inline == "false" else { throw .flagTakesNoValue("--\(name)") }
            state.args.values[name] = [inline ?? "true"]
        case .value, .list:
            let value: String
            if let inline {
                value = inline
            } else {
                guard index < argv.count, !argv[index].hasPrefix("--") else { throw .missingValue("--\(name)") }
                value = argv[index]
                index += 1
            }
            if flag.kind == .value {
                guard state.args.values[name] == nil else { throw .repeatedFlag("--\(name)") }
                state.args.values[name] = [value]
            } else {
                let items = value.split(separator: ",", omittingEmptySubsequences: false).map {
                    $0.trimmingWhitespace()
                }
                guard !items.contains(where: \.isEmpty) else { throw .emptyListItem("--\(name)") }
                state.args.values[name, default: []] += items
            }
        }
    }

    private func finish(_ state: ParseState) throws(ArgumentError) -> Outcome {
        if let topic = state.helpTopic { return .help(path: topic) }
        let path = state.args.commandPath
        guard let leaf = spec(for: path) else {
            throw .missingCommand(command: display(path), choices: children(of: path))
        }
        let required = leaf.requiredGlobals + leaf.flags.filter(\.isRequired).map(\.name)
        for name in required where state.args.values[name] == nil {
            throw .missingFlag("--\(name)", command: display(path))
        }
        return .run(state.args)
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
