import Foundation

/// The `warren` front door: parse, dispatch through the command table, turn failures into
/// one line on stderr and an exit status. Runs on the main thread, once.
enum CLI {
    /// Exit status for a command line the parser rejects.
    static let usageExitStatus: Int32 = 2
    /// Exit status for a command that failed.
    static let failureExitStatus: Int32 = 1

    /// Runs the command line `argv` (without the program name) against `commands`.
    static func run(_ argv: [String], commands: [any WarrenCommand.Type]) -> Int32 {
        let parser = ArgumentParser(commands: commands.map { $0.spec })
        let outcome: ArgumentParser.Outcome
        do {
            outcome = try parser.parse(argv)
        } catch {
            printError("warren: \(error)")
            return usageExitStatus
        }
        switch outcome {
        case .help(let path):
            guard let text = parser.usage(for: path) else {
                printError("warren: no help for '\((["warren"] + path).joined(separator: " "))': no such command")
                return usageExitStatus
            }
            print(text, terminator: "")
            return 0
        case .run(let args):
            guard let command = commands.first(where: { $0.spec.path == args.commandPath }) else {
                preconditionFailure("the parser returned a path that is not in the table: \(args.commandPath)")
            }
            do {
                return try command.run(args)
            } catch let error as ArgumentError {
                printError("warren: \(error)")
                return usageExitStatus
            } catch {
                printError("warren \(args.commandPath.joined(separator: " ")): \(error)")
                return failureExitStatus
            }
        }
    }

    /// One line on stderr.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// A failure of a command that is not a parser error: one line, what to do.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
