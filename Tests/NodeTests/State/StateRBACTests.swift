import Testing

@testable import Node

@Suite("RBAC table")
struct StateRBACTests {
    /// The expected grant for every (permission, role): written out independently of the
    /// table so a change to either shows up here.
    private static let expected: [Role: Set<String>] = [
        .admin: Set(Permission.allCases.map(\.rawValue)),
        .operator: [
            "tunnels.read", "tunnels.write", "mappings.read", "mappings.write", "endpoints.read", "endpoints.write",
            "forwards.read", "forwards.write", "sessions.read", "sessions.kill", "connectors.read", "cluster.read",
        ],
        .auditor: [
            "tunnels.read", "mappings.read", "endpoints.read", "forwards.read", "sessions.read", "connectors.read",
            "cluster.read", "audit.read", "audit.export",
        ],
    ]

    @Test(arguments: Permission.allCases)
    func everyPermissionIsDecidedForEveryRole(permission: Permission) {
        #expect(Permission.table[permission] != nil, "\(permission) missing from the table")
        for role in Role.allCases {
            #expect(
                role.allows(permission) == Self.expected[role]!.contains(permission.rawValue),
                "\(role) / \(permission)")
        }
    }

    @Test func auditorIsReadOnlyAndUserManagementIsAdminOnly() {
        for permission in Permission.allCases {
            let isRead = permission.rawValue.hasSuffix(".read") || permission == .auditExport
            if Role.auditor.allows(permission) { #expect(isRead, "\(permission)") }
        }
        for permission in [Permission.usersRead, .usersWrite, .secretsRotate, .clusterWrite, .connectorsRevoke] {
            #expect(Role.allCases.filter { $0.allows(permission) } == [.admin])
        }
    }

    @Test func stateCommandsEnforceTheTableForUsers() {
        // Every op that needs a permission is denied to the roles without it and allowed
        // (past authorisation) to those with it.
        let h = Harness()
        for role in Role.allCases {
            h.ok(
                .userAdd(.init(name: "u-\(role.rawValue)", role: role, passwordHash: testPasswordHash)),
                ControlState.UserView.self)
        }
        let sample: [ControlOp] = [
            h.createTunnel("x"), .tunnelClose(.init(id: "x", reason: .admin)), .connectorRevoke(.init(id: "x")),
            .mappingRemove(.init(id: "x")), .endpointDelete(.init(id: "x")), .forwardRemove(.init(id: "x")),
            .memberRemove(.init(id: "x")), .userRemove(.init(name: "x")), .trustRevokeSerial(.init(serial: "zz")),
            .auditPrune(.init(throughSeq: 0)), .settingsSet(.init(tunnelDurationMaxSeconds: 1)),
        ]
        for op in sample {
            guard case .permission(let permission) = ControlState.requirement(op) else {
                Issue.record("\(op.type) should need a permission")
                continue
            }
            for role in Role.allCases {
                let denial = h.state.authorize(op, actor: Principal(.user, "u-\(role.rawValue)"))
                #expect((denial == nil) == role.allows(permission), "\(role) \(op.type)")
            }
        }
    }

    @Test func nodeAndConnectorActorsGetOnlyTheirOps() {
        let state = ControlState()
        let internalOps: [ControlOp] = [
            .tunnelExpire(.init(ids: [])), .auditAppend(.init(records: [])),
            .connectorStatus(.init(id: "c", status: .online, node: "n1")),
        ]
        for op in internalOps {
            #expect(state.authorize(op, actor: Principal(.node, "n1")) == nil)
            #expect(state.authorize(op, actor: Principal(.connector, "c")) != nil)
            #expect(state.authorize(op, actor: Principal(.system, "boot")) == nil)
        }
        let enrol = ControlOp.connectorRenew(.init(id: "c", certificateSerial: "01", certificateExpiresAt: 1))
        #expect(state.authorize(enrol, actor: Principal(.connector, "c")) == nil)
        #expect(state.authorize(.userRemove(.init(name: "a")), actor: Principal(.node, "n1")) != nil)
        #expect(state.authorize(.userRemove(.init(name: "a")), actor: Principal(.connector, "c")) != nil)
        #expect(state.authorize(.userRemove(.init(name: "a")), actor: Principal(.adminCert, "cert:a")) == nil)
    }
}
