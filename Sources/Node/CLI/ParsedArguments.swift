/// The result of parsing one command line: the command path, flag values and positionals.
/// A plain value; accessors throw `ArgumentError` with the flag's name in the message.
struct ParsedArguments: Sendable, Equatable {
    /// Words after `warren` naming the command, e.g. `["pki", "init"]`.
    var commandPath: [String] = []
    /// Arguments that are neither command words nor flags, in order.
    var positionals: [String] = []
    /// Values by flag name (without dashes); booleans hold `["true"]` or `["false"]`.
    var values: [String: [String]] = [:]

    /// True when a boolean flag was given (and not as `--flag=false`).
    func bool(_ name: String) -> Bool { values[name]?.last == "true" }

    /// The value of a `.value` flag, or nil.
    func string(_ name: String) -> String? { values[name]?.last }

    /// The value of a flag that must be present.
    func require(_ name: String) throws(ArgumentError) -> String {
        guard let value = string(name) else { throw .missingFlag("--\(name)", command: displayName) }
        return value
    }

    /// Every value of a `.list` flag, comma lists split, in order; empty when absent.
    func list(_ name: String) -> [String] { values[name] ?? [] }

    /// An integer flag within `range`, or `defaultValue` when absent.
    func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ArgumentError) -> Int {
        guard let text = string(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw .invalidValue(
                "--\(name)", text, expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A value that must be one of `choices`, or `defaultValue` when absent.
    func choice(_ name: String, _ choices: [String], default defaultValue: String) throws(ArgumentError) -> String {
        guard let text = string(name) else { return defaultValue }
        guard choices.contains(text) else {
            throw .invalidValue("--\(name)", text, expected: "one of \(choices.joined(separator: ", "))")
        }
        return text
    }

    /// Global `--json`.
    var json: Bool { bool("json") }
    /// Global `--server`, every value.
    var servers: [String] { list("server") }
    /// Global `--pki`.
    var pki: String? { string("pki") }

    /// `warren pki init`, for messages.
    var displayName: String { (["warren"] + commandPath).joined(separator: " ") }
}

/// A command line the parser rejects. Printed as one line; exit status 2.
enum ArgumentError: Error, Equatable, CustomStringConvertible {
    case unknownFlag(String, command: String)
    case missingValue(String)
    case flagTakesNoValue(String)
    case repeatedFlag(String)
    case emptyListItem(String)
    case invalidValue(String, String, expected: String)
    case missingFlag(String, command: String)
    case unknownCommand(String, command: String, choices: [String])
    case missingCommand(command: String, choices: [String])
    case unexpectedArgument(String, command: String)

    var description: String {
        switch self {
        case .unknownFlag(let flag, let command):
            "unknown flag \(flag) for '\(command)'; see '\(command) --help'"
        case .missingValue(let flag): "\(flag) needs a value"
        case .flagTakesNoValue(let flag): "\(flag) takes no value (use \(flag)=true or \(flag)=false)"
        case .repeatedFlag(let flag): "\(flag) given more than once"
        case .emptyListItem(let flag): "\(flag) has an empty item in its list"
        case .invalidValue(let flag, let value, let expected): "\(flag) '\(value)' is not \(expected)"
        case .missingFlag(let flag, let command): "'\(command)' needs \(flag); see '\(command) --help'"
        case .unknownCommand(let word, let command, let choices):
            "unknown command '\(word)' for '\(command)' (commands: \(choices.joined(separator: ", ")))"
        case .missingCommand(let command, let choices):
            "'\(command)' needs a command: \(choices.joined(separator: ", ")); see '\(command) --help'"
        case .unexpectedArgument(let argument, let command):
            "unexpected argument '\(argument)' for '\(command)'; see '\(command) --help'"
        }
    }
}
