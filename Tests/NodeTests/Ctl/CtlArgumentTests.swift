import Testing

@testable import Node

/// Every `warren ctl` command, as main.swift lists them.
let ctlCommands: [any WarrenCommand.Type] = [
    CtlLoginCommand.self, CtlLogoutCommand.self, CtlStatusCommand.self, CtlMembersListCommand.self,
    CtlMembersAddCommand.self, CtlMembersRemoveCommand.self, CtlLeaderTransferCommand.self,
    CtlTunnelCreateCommand.self, CtlTunnelListCommand.self, CtlTunnelShowCommand.self, CtlTunnelCloseCommand.self,
    CtlMappingAddCommand.self, CtlMappingListCommand.self, CtlMappingRemoveCommand.self,
    CtlEndpointCreateCommand.self, CtlEndpointListCommand.self, CtlEndpointShowCommand.self,
    CtlEndpointDeleteCommand.self, CtlEndpointAssociateCommand.self, CtlEndpointUnassociateCommand.self,
    CtlForwardAddCommand.self, CtlForwardListCommand.self, CtlForwardRemoveCommand.self,
    CtlConnectorListCommand.self, CtlConnectorRevokeCommand.self, CtlUserAddCommand.self, CtlUserListCommand.self,
    CtlUserRemoveCommand.self, CtlAuditListCommand.self, CtlAuditExportCommand.self, CtlAuditVerifyCommand.self,
    CtlSnapshotSaveCommand.self, CtlAuthRotateKeyCommand.self,
]

private let parser = ArgumentParser(commands: ctlCommands.map { $0.spec })

/// Parses and runs `line` against a server that does not exist and without a session: a
/// usage error must come first (before any connection or session lookup), as `ArgumentError`.
private func usageError(_ line: String) -> ArgumentError? {
    let argv = ["--server", "https://127.0.0.1:1"] + line.split(separator: " ").map(String.init)
    do {
        guard case .run(let args) = try parser.parse(argv) else { return nil }
        let command = ctlCommands.first { $0.spec.path == args.commandPath }!
        _ = try command.run(args)
        return nil
    } catch let error as ArgumentError {
        return error
    } catch {
        return nil  // got as far as connecting or reading the session: not a usage error
    }
}

@Suite("Ctl arguments")
struct CtlArgumentTests {
    @Test(arguments: [
        ("ctl tunnel create t1 --duration 3y", "--duration '3y'"),
        ("ctl tunnel create t1 --duration 0h", "--duration '0h'"),
        ("ctl tunnel create t1 --duration h", "--duration 'h'"),
        ("ctl tunnel create", "needs a tunnel NAME"),
        ("ctl tunnel create a b", "unexpected argument 'b'"),
        ("ctl tunnel create bad/name", "'bad/name'"),
        ("ctl tunnel list --state closing", "--state 'closing'"),
        ("ctl tunnel close t-1 --timeout 0", "--timeout '0'"),
        ("ctl mapping add t-1 --expose 10.0.0.5:22 --listen 0", "--listen '0'"),
        ("ctl mapping add t-1 --expose 10.0.0.5:22 --listen 65536", "--listen '65536'"),
        ("ctl mapping add t-1 --expose 10.0.0.5:22 --listen http", "--listen 'http'"),
        ("ctl mapping add t-1 --expose 10.0.0.5 --listen 22", "--expose '10.0.0.5'"),
        ("ctl mapping add t-1 --expose 10.0.0.5:0 --listen 22", "--expose '10.0.0.5:0'"),
        ("ctl mapping add t-1 --listen 22", "--expose or --publish"),
        ("ctl mapping add t-1 --expose a:1 --publish b:2 --listen 22", "allowed with --expose"),
        ("ctl mapping add t-1 --expose a:1 --listen 22 --allow 10.0.0.0/33", "--allow '10.0.0.0/33'"),
        ("ctl mapping add t-1 --expose a:1 --listen 22 --allow 10.0.0.0/8,nope", "--allow 'nope'"),
        ("ctl endpoint create e --subnet 10.1.0.0/99", "--subnet '10.1.0.0/99'"),
        ("ctl endpoint associate e-1", "--vpc or --subnet"),
        ("ctl forward add e-1 --local --remote --listen 1 --to a:1", "allowed with --local"),
        ("ctl forward add e-1 --listen 1 --to a:1", "--local or --remote"),
        ("ctl forward add e-1 --local --listen 1 --to nowhere", "--to 'nowhere'"),
        ("ctl members add n4 --api 127.0.0.1 --peer 127.0.0.1:7454", "--api '127.0.0.1'"),
        ("ctl members add n4 --api 127.0.0.1:7444 --peer 127.0.0.1:7454 --mapping-host x", "--mapping-host 'x'"),
        ("ctl user add bob --role root", "--role 'root'"),
        ("ctl audit list --since yesterday", "--since 'yesterday'"),
        ("ctl audit list --since 2026-11-24T00:00:00Z --until 2026-11-23T00:00:00Z", "after --since"),
        ("ctl audit list --limit 0", "--limit '0'"),
        ("ctl audit list --limit 1001", "--limit '1001'"),
        ("ctl audit list --after -1", "--after '-1'"),
        ("ctl audit list --after x", "--after 'x'"),
        ("ctl audit export --format xml", "--format 'xml'"),
        ("ctl audit export", "needs --format"),
        ("ctl snapshot save", "needs FILE"),
        ("ctl login", "needs --user"),
        ("ctl login --user alice", "--ca FILE or --pki DIR"),
        ("ctl status extra", "unexpected argument 'extra'"),
        ("ctl status --server ftp://x", "--server 'ftp://x'"),
        ("ctl status --server https://h:0", "--server 'https://h:0'"),
    ])
    func badArgumentsAreUsageErrorsBeforeAnyRequest(line: String, fragment: String) {
        let error = usageError(line)
        #expect(error != nil, "\(line) was not refused as a usage error")
        #expect("\(error.map { "\($0)" } ?? "")".contains(fragment), "\(line): \(String(describing: error))")
    }

    @Test func serverURLsParseWithDefaultsAndIPv6() throws {
        let servers = try CtlClient.parseServers([
            "https://127.0.0.1:7441", "127.0.0.1:7442/", "https://node.example.com", "https://[::1]:7443", "[::1]",
        ])
        #expect(
            servers.map(\.url) == [
                "https://127.0.0.1:7441", "https://127.0.0.1:7442", "https://node.example.com:7441",
                "https://[::1]:7443",
                "https://[::1]:7441",
            ])
        #expect(servers[3].host == "::1" && servers[3].port == 7443)
        for bad in ["http://127.0.0.1:7441", "https://", "https://h:x", "https://h/path", "https://[::1"] {
            #expect(throws: ArgumentError.self) { try CtlClient.parseServers([bad]) }
        }
    }

    @Test func everyCtlCommandHasHelpAndTheGroupListsThemAll() throws {
        #expect(parser.usage(for: ["ctl"])?.contains("tunnel") == true)
        for command in ctlCommands {
            let text = parser.usage(for: command.spec.path) ?? ""
            #expect(text.hasPrefix("Usage: \(command.spec.displayName)"))
        }
        #expect(parser.children(of: ["ctl", "tunnel"]) == ["create", "list", "show", "close"])
        #expect(
            try parser.parse(["ctl", "tunnel", "close", "t-1", "--help"]) == .help(path: ["ctl", "tunnel", "close"]))
    }

    @Test func queriesEscapeValuesAndSkipAbsentOnes() {
        #expect(CtlArguments.query([("a", "1"), ("b", nil), ("c", "x y&z")]) == "?a=1&c=x%20y%26z")
        #expect(CtlArguments.query([("a", nil)]) == "")
    }
}
