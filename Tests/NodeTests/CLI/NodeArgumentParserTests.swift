import Testing

@testable import Node

/// A table like main.swift's, plus a command with positionals and a list flag.
private let parser = ArgumentParser(commands: [
    PKIInitCommand.spec,
    PKIIssueCommand.spec,
    VersionCommand.spec,
    CommandSpec(path: ["snapshot", "save"], summary: "Save a snapshot.", positionals: "FILE"),
    CommandSpec(
        path: ["ctl", "tunnel", "create"], summary: "Create a tunnel.",
        flags: [.value("duration", "D", "Lifetime."), .list("tag", "T", "Tags.")], positionals: "NAME"),
])

private func run(_ path: [String], _ values: [String: [String]] = [:], _ positionals: [String] = [])
    -> ArgumentParser.Outcome
{
    .run(ParsedArguments(commandPath: path, positionals: positionals, values: values))
}

private let accepted: [(String, ArgumentParser.Outcome)] = [
    ("version", run(["version"])),
    ("pki init --out d --nodes n1,n2,n3", run(["pki", "init"], ["out": ["d"], "nodes": ["n1", "n2", "n3"]])),
    ("pki init --out=d --nodes=n1", run(["pki", "init"], ["out": ["d"], "nodes": ["n1"]])),
    ("pki init --nodes n1 --nodes n2,n3 --out d", run(["pki", "init"], ["out": ["d"], "nodes": ["n1", "n2", "n3"]])),
    ("pki init --out d --nodes ' n1 , n2'", run(["pki", "init"], ["out": ["d"], "nodes": ["n1", "n2"]])),
    ("--json pki init --out d --nodes n1", run(["pki", "init"], ["json": ["true"], "out": ["d"], "nodes": ["n1"]])),
    ("pki --json init --out d --nodes n1", run(["pki", "init"], ["json": ["true"], "out": ["d"], "nodes": ["n1"]])),
    (
        "pki init --out d --nodes n1 --force=false",
        run(["pki", "init"], ["out": ["d"], "nodes": ["n1"], "force": ["false"]])
    ),
    ("--pki p pki issue --name n1", run(["pki", "issue"], ["pki": ["p"], "name": ["n1"]])),
    (
        "pki issue --name n1 --pki p --keep-key",
        run(["pki", "issue"], ["pki": ["p"], "name": ["n1"], "keep-key": ["true"]])
    ),
    ("--server a,b version --server c", run(["version"], ["server": ["a", "b", "c"]])),
    ("snapshot save f.snap", run(["snapshot", "save"], [:], ["f.snap"])),
    ("snapshot save -- --odd-name", run(["snapshot", "save"], [:], ["--odd-name"])),
    ("snapshot save -", run(["snapshot", "save"], [:], ["-"])),
    (
        "ctl tunnel create web --duration 24h --json",
        run(["ctl", "tunnel", "create"], ["duration": ["24h"], "json": ["true"]], ["web"])
    ),
    ("ctl tunnel create --tag a --tag b,c web", run(["ctl", "tunnel", "create"], ["tag": ["a", "b", "c"]], ["web"])),
    ("--help", .help(path: [])),
    ("-h", .help(path: [])),
    ("pki --help", .help(path: ["pki"])),
    ("pki init -h", .help(path: ["pki", "init"])),
    ("pki init --help --bogus", .help(path: ["pki", "init"])),
    ("pki init --bogus --out --help", .help(path: ["pki", "init"])),
    ("--json pki -h", .help(path: ["pki"])),
    ("snapshot save -- --help", run(["snapshot", "save"], [:], ["--help"])),
    ("help", .help(path: [])),
    ("help pki init", .help(path: ["pki", "init"])),
]

private let rejected: [(String, ArgumentError)] = [
    ("", .missingCommand(command: "warren", choices: ["pki", "version", "snapshot", "ctl"])),
    ("pki", .missingCommand(command: "warren pki", choices: ["init", "issue"])),
    ("frob", .unknownCommand("frob", command: "warren", choices: ["pki", "version", "snapshot", "ctl"])),
    ("pki frob", .unknownCommand("frob", command: "warren pki", choices: ["init", "issue"])),
    ("pki init --out d --nodes n1 --bogus", .unknownFlag("--bogus", command: "warren pki init")),
    ("pki init --out d --nodes n1 -x", .unknownFlag("-x", command: "warren pki init")),
    ("--out d pki init", .unknownFlag("--out", command: "warren")),
    ("pki init --nodes n1 --out", .missingValue("--out")),
    ("pki init --out --nodes n1", .missingValue("--out")),
    ("pki init --out a --out b --nodes n1", .repeatedFlag("--out")),
    ("pki init --out d --nodes n1,,n2", .emptyListItem("--nodes")),
    ("pki init --out d --nodes n1 --force=yes", .flagTakesNoValue("--force")),
    ("pki init --nodes n1", .missingFlag("--out", command: "warren pki init")),
    ("pki issue --name n1", .missingFlag("--pki", command: "warren pki issue")),
    ("version extra", .unexpectedArgument("extra", command: "warren version")),
    ("pki init --out d --nodes n1 stray", .unexpectedArgument("stray", command: "warren pki init")),
]

/// Splits like a shell for these simple cases: spaces, and single quotes keep spaces.
private func words(_ line: String) -> [String] {
    var out: [String] = []
    var current = ""
    var quoted = false
    var started = false
    for ch in line {
        if ch == "'" {
            quoted.toggle()
            started = true
        } else if ch == " " && !quoted {
            if started { out.append(current) }
            current = ""
            started = false
        } else {
            current.append(ch)
            started = true
        }
    }
    if started { out.append(current) }
    return out
}

@Suite("Node argument parser")
struct NodeArgumentParserTests {
    @Test(arguments: accepted)
    func acceptedCommandLinesParseToTheirCommandAndValues(line: String, expected: ArgumentParser.Outcome) throws {
        #expect(try parser.parse(words(line)) == expected)
    }

    @Test(arguments: rejected)
    func rejectedCommandLinesNameWhatIsWrong(line: String, expected: ArgumentError) {
        #expect(throws: expected) { try parser.parse(words(line)) }
    }

    @Test func unknownFlagMessagesNameTheFlagAndTheCommand() {
        let message = ArgumentError.unknownFlag("--bogus", command: "warren pki init").description
        #expect(message == "unknown flag --bogus for 'warren pki init'; see 'warren pki init --help'")
    }

    @Test func typedAccessorsValidateTheirValues() throws {
        let args = ParsedArguments(commandPath: ["pki", "issue"], values: ["days": ["abc"], "role": ["root"]])
        #expect(throws: ArgumentError.invalidValue("--days", "abc", expected: "an integer from 1 to 10")) {
            try args.int("days", default: 1, in: 1...10)
        }
        #expect(throws: ArgumentError.self) { try args.choice("role", ["node", "admin"], default: "node") }
        #expect(try ParsedArguments().int("days", default: 7, in: 1...10) == 7)
        #expect(throws: ArgumentError.missingFlag("--name", command: "warren pki issue")) { try args.require("name") }
    }

    @Test func everyLevelHasUsefulHelp() throws {
        let root = try #require(parser.usage(for: []))
        #expect(root.contains("pki") && root.contains("version") && root.contains("help"))
        let group = try #require(parser.usage(for: ["pki"]))
        #expect(group.contains("init") && group.contains("issue"))
        let initHelp = try #require(parser.usage(for: ["pki", "init"]))
        #expect(initHelp.hasPrefix("Usage: warren pki init --out DIR --nodes NAME,... [flags]"))
        for flag in PKIInitCommand.spec.flags { #expect(initHelp.contains("--\(flag.name)")) }
        #expect(initHelp.contains("--json"))
        let issueHelp = try #require(parser.usage(for: ["pki", "issue"]))
        #expect(issueHelp.hasPrefix("Usage: warren pki issue --pki DIR --name NAME [flags]"))
        #expect(parser.usage(for: ["nope"]) == nil)
    }

    @Test func theMainTableHasNoDuplicatePathsAndEveryCommandHasHelp() {
        let paths = Commands.table.map { $0.spec.path }
        #expect(Set(paths.map { $0.joined(separator: " ") }).count == paths.count)
        let real = ArgumentParser(commands: Commands.table.map { $0.spec })
        for path in paths { #expect(real.usage(for: path) != nil) }
    }
}
