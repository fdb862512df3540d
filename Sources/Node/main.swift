import Foundation

// The `warren` executable. Every subcommand is a `WarrenCommand`; to add one, write its
// type under Commands/ and add one line to this table (order = order in `warren --help`).
let commandTable: [any WarrenCommand.Type] = [
    PKIInitCommand.self,
    PKIIssueCommand.self,
    // RelayCommand.self,
    // NodeCommand.self, ConnectorCommand.self, Ctl…Command.self: later issues.
    VersionCommand.self,
]

exit(CLI.run(Array(CommandLine.arguments.dropFirst()), commands: commandTable))
