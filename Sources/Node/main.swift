import Foundation

/// Every `warren` subcommand. To add one, write its `WarrenCommand` type under Commands/
/// and add one line here (the order is the order in `warren --help`).
enum Commands {
    static let table: [any WarrenCommand.Type] = [
        NodeCommand.self,
        PKIInitCommand.self,
        PKIIssueCommand.self,
        RelayCommand.self,
        VersionCommand.self,
    ]
}

// SIGPIPE is ignored at start-up by the I/O core's owner; commands that open sockets go
// through it. Everything below is parse → dispatch → exit status.
exit(CLI.run(Array(CommandLine.arguments.dropFirst()), commands: Commands.table))
