/// How a flag takes its value.
enum FlagKind: Sendable, Equatable {
    /// Present or absent: `--force`. `--force=true|false` is accepted too.
    case bool
    /// One value: `--out DIR` or `--out=DIR`. Given twice is an error.
    case value
    /// Any number of values: repeated (`--server a --server b`) and/or comma lists (`--server a,b`).
    case list
}

/// One flag a command (or every command, for globals) accepts.
struct FlagSpec: Sendable, Equatable {
    /// The long name without dashes, e.g. `out`.
    var name: String
    var kind: FlagKind
    /// Placeholder shown in usage, e.g. `DIR`; empty for booleans.
    var valueName: String
    /// One line of help.
    var help: String
    /// The parser rejects the command line when a required flag is missing.
    var isRequired: Bool

    static func bool(_ name: String, _ help: String) -> FlagSpec {
        FlagSpec(name: name, kind: .bool, valueName: "", help: help, isRequired: false)
    }

    static func value(_ name: String, _ valueName: String, _ help: String, required: Bool = false) -> FlagSpec {
        FlagSpec(name: name, kind: .value, valueName: valueName, help: help, isRequired: required)
    }

    static func list(_ name: String, _ valueName: String, _ help: String, required: Bool = false) -> FlagSpec {
        FlagSpec(name: name, kind: .list, valueName: valueName, help: help, isRequired: required)
    }

    /// `--out DIR`, `--nodes LIST,...`, `--force`.
    var synopsis: String {
        switch kind {
        case .bool: "--\(name)"
        case .value: "--\(name) \(valueName)"
        case .list: "--\(name) \(valueName),..."
        }
    }
}

/// What a (sub)command is called and accepts; drives parsing and `--help`.
struct CommandSpec: Sendable {
    /// Words after `warren`, e.g. `["pki", "init"]`.
    var path: [String]
    /// One line for command lists.
    var summary: String
    /// Extra paragraphs for `--help` (examples, notes); may be empty.
    var details: String = ""
    /// Flags besides the global ones.
    var flags: [FlagSpec] = []
    /// Placeholder for positional arguments, e.g. `FILE`; nil when none are accepted.
    var positionals: String? = nil
    /// Global flags this command cannot do without, e.g. `["pki"]` for `pki issue`.
    var requiredGlobals: [String] = []

    /// `warren pki init`.
    var displayName: String { (["warren"] + path).joined(separator: " ") }
}

/// A `warren` subcommand: its spec and its entry point. Add a type conforming to this to
/// the table in `main.swift` and it is parsed, dispatched and listed in `--help`.
protocol WarrenCommand: Sendable {
    /// Name, flags and help.
    static var spec: CommandSpec { get }
    /// Runs the command on its parsed arguments; returns the exit status. Throws for a
    /// failure, which `main` prints as one line on stderr with exit status 1.
    static func run(_ args: ParsedArguments) throws -> Int32
}

/// Flags every command accepts, anywhere on the command line.
enum GlobalFlags {
    static let all: [FlagSpec] = [
        .bool("json", "Print machine-readable JSON instead of tables."),
        .list("server", "URL", "Node(s) to talk to (repeat or comma-separate)."),
        .value("pki", "DIR", "PKI folder (CA, certificates and keys)."),
        .bool("help", "Show help for the command (also -h)."),
    ]
}
