import Testing

@testable import Node

/// `user.update`: a new role (never taking the last admin's), a new password that moves
/// the user's version (the `ver` its tokens must carry), refusals that change nothing.
@Suite("Control state: user update")
struct StateUserUpdateTests {
    @Test func roleAndPasswordChangeAndTheLastAdminStays() throws {
        let h = Harness()
        h.ok(.userAdd(.init(name: "amy", role: .admin, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.ok(.userAdd(.init(name: "olga", role: .operator, passwordHash: testPasswordHash)), ControlState.UserView.self)
        let created = try #require(h.state.users["olga"])
        #expect(created.version == created.createdAt)

        let promoted = h.ok(.userUpdate(.init(name: "olga", role: .admin)), ControlState.UserView.self)
        #expect(promoted?.role == .admin && h.state.users["olga"]?.role == .admin)
        #expect(h.state.users["olga"]?.version == created.version, "a role change keeps her tokens")
        #expect(h.state.audit.records.last?.detail.contains("role operator→admin") == true)

        h.now += 1
        let newHash = try PasswordHash.make(password: "another password", salt: Array(repeating: 7, count: 16))
        h.ok(.userUpdate(.init(name: "olga", passwordHash: newHash)), ControlState.UserView.self)
        let changed = try #require(h.state.users["olga"])
        #expect(changed.passwordHash == newHash && changed.version > created.version)
        // Even at the same instant the version moves, so no earlier token matches it.
        h.ok(.userUpdate(.init(name: "olga", passwordHash: testPasswordHash)), ControlState.UserView.self)
        #expect(try #require(h.state.users["olga"]).version > changed.version)

        // With two admins one may step down; the last one may not.
        h.ok(.userUpdate(.init(name: "amy", role: .auditor)), ControlState.UserView.self)
        h.refused(.userUpdate(.init(name: "olga", role: .operator)), .lastAdmin)
        h.refused(.userUpdate(.init(name: "olga")), .invalidValue)
        h.refused(.userUpdate(.init(name: "olga", passwordHash: "not-a-hash")), .invalidValue)
        h.refused(.userUpdate(.init(name: "ghost", role: .auditor)), .notFound)
        h.refused(
            .userUpdate(.init(name: "amy", role: .admin)), .forbidden, as: Principal(.node, "n1"), outcome: .denied)
    }

    @Test func aUserMaySetTheirOwnPasswordButNotTheirRoleNorAnothersPassword() throws {
        let h = Harness()
        h.ok(.userAdd(.init(name: "amy", role: .admin, passwordHash: testPasswordHash)), ControlState.UserView.self)
        h.ok(.userAdd(.init(name: "olga", role: .operator, passwordHash: testPasswordHash)), ControlState.UserView.self)
        let olga = Principal(.user, "olga")
        let newHash = try PasswordHash.make(password: "olga's own", salt: Array(repeating: 3, count: 16))
        h.ok(.userUpdate(.init(name: "olga", passwordHash: newHash)), as: olga, ControlState.UserView.self)
        #expect(h.state.users["olga"]?.passwordHash == newHash)
        h.refused(.userUpdate(.init(name: "olga", role: .admin)), .forbidden, as: olga, outcome: .denied)
        h.refused(
            .userUpdate(.init(name: "olga", role: .admin, passwordHash: newHash)), .forbidden, as: olga,
            outcome: .denied)
        h.refused(.userUpdate(.init(name: "amy", passwordHash: newHash)), .forbidden, as: olga, outcome: .denied)
    }
}
