import Foundation

/// Every `warren` subcommand. To add one, write its `WarrenCommand` type under Commands/
/// and add one line here (the order is the order in `warren --help`).
enum Commands {
    static let table: [any WarrenCommand.Type] = [
        NodeCommand.self,
        ConnectorCommand.self,
        PKIInitCommand.self,
        PKIIssueCommand.self,
        RelayCommand.self,
        RestoreCommand.self,
        CtlLoginCommand.self,
        CtlLogoutCommand.self,
        CtlStatusCommand.self,
        CtlMembersListCommand.self,
        CtlMembersAddCommand.self,
        CtlMembersRemoveCommand.self,
        CtlLeaderTransferCommand.self,
        CtlSessionsListCommand.self,
        CtlSessionsKillCommand.self,
        CtlNodeDrainCommand.self,
        CtlTunnelCreateCommand.self,
        CtlTunnelListCommand.self,
        CtlTunnelShowCommand.self,
        CtlTunnelCloseCommand.self,
        CtlMappingAddCommand.self,
        CtlMappingListCommand.self,
        CtlMappingRemoveCommand.self,
        CtlEndpointCreateCommand.self,
        CtlEndpointListCommand.self,
        CtlEndpointShowCommand.self,
        CtlEndpointDeleteCommand.self,
        CtlEndpointAssociateCommand.self,
        CtlEndpointUnassociateCommand.self,
        CtlForwardAddCommand.self,
        CtlForwardListCommand.self,
        CtlForwardRemoveCommand.self,
        CtlConnectorListCommand.self,
        CtlConnectorRevokeCommand.self,
        CtlCertRotateCABeginCommand.self,
        CtlCertRotateCAStatusCommand.self,
        CtlCertRotateCAFinishCommand.self,
        CtlCertRotateCAAbortCommand.self,
        CtlNodeRevokeCommand.self,
        CtlUserAddCommand.self,
        CtlUserListCommand.self,
        CtlUserRemoveCommand.self,
        CtlUserSetRoleCommand.self,
        CtlUserSetPasswordCommand.self,
        CtlPasswdCommand.self,
        CtlAuditListCommand.self,
        CtlAuditExportCommand.self,
        CtlAuditVerifyCommand.self,
        CtlSnapshotSaveCommand.self,
        CtlAuthRotateKeyCommand.self,
        VersionCommand.self,
    ]
}

// SIGPIPE is ignored at start-up by the I/O core's owner; commands that open sockets go
// through it. Everything below is parse → dispatch → exit status.
exit(CLI.run(Array(CommandLine.arguments.dropFirst()), commands: Commands.table))
