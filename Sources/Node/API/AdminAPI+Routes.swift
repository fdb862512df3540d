/// Every route of the HTTPS port, in one table (docs/API.md lists the same).
extension AdminAPI {
    static let routeTable: [Route] = [
        // Health, readiness, metrics: open, for load balancers and scrapers.
        Route(method: "GET", segments: ["healthz"], access: .open) { api, call in api.healthz(call) },
        Route(method: "GET", segments: ["readyz"], access: .open) { api, call in api.readyz(call) },
        Route(method: "GET", segments: ["metrics"], access: .open) { api, call in api.metricsText(call) },
        // The web console (static files) and who the signed-in caller is.
        Route(method: "GET", segments: [], access: .open) { api, call in api.consoleFile(call, name: "index.html") },
        Route(method: "GET", segments: ["ui"], access: .open) { api, call in
            api.consoleFile(call, name: "index.html")
        },
        Route(method: "GET", segments: ["ui", ":file"], access: .open) { api, call in
            api.consoleFile(call, name: call.param("file"))
        },
        Route(method: "GET", segments: ["v1", "whoami"], access: .signedIn) { api, call in api.whoami(call) },
        Route(method: "POST", segments: ["v1", "whoami", "password"], access: .signedIn) { api, call in
            api.changeOwnPassword(call)
        },
        // Sign in.
        Route(method: "POST", segments: ["v1", "login"], access: .open) { api, call in api.login(call) },
        // Connector enrolment (the connect secret is the credential).
        Route(method: "GET", segments: ["v1", "connect", "ca"], access: .open) { api, call in api.connectCA(call) },
        Route(method: "POST", segments: ["v1", "connect", ":id", "enrol"], access: .open) { api, call in
            api.enrolConnector(call)
        },
        Route(method: "GET", segments: ["v1", "connect", ":id", "mappings"], access: .connector) { api, call in
            api.connectorMappings(call)
        },
        Route(method: "GET", segments: ["v1", "connect", ":id", "config"], access: .connector) { api, call in
            api.connectorConfig(call)
        },
        Route(method: "GET", segments: ["v1", "connect", ":id", "session"], access: .connector) { api, call in
            api.connectorSession(call)
        },
        Route(method: "GET", segments: ["v1", "connect", ":id", "route"], access: .connector) { api, call in
            api.connectorRoute(call)
        },
        Route(method: "GET", segments: ["v1", "connect", ":id", "trust"], access: .connector) { api, call in
            api.connectorTrust(call)
        },
        Route(method: "POST", segments: ["v1", "connect", ":id", "renew"], access: .connector) { api, call in
            api.renewConnector(call)
        },
        // Cluster.
        Route(method: "GET", segments: ["v1", "status"], access: .permission(.clusterRead)) { api, call in
            api.status(call)
        },
        Route(method: "GET", segments: ["v1", "members"], access: .permission(.clusterRead)) { api, call in
            api.status(call)
        },
        Route(method: "POST", segments: ["v1", "members"], access: .permission(.clusterWrite)) { api, call in
            api.addMember(call)
        },
        Route(method: "DELETE", segments: ["v1", "members", ":id"], access: .permission(.clusterWrite)) { api, call in
            api.removeMember(call)
        },
        Route(method: "POST", segments: ["v1", "leader", "transfer"], access: .permission(.clusterWrite)) {
            api, call in api.transferLeader(call)
        },
        Route(method: "POST", segments: ["v1", "auth", "rotate-key"], access: .permission(.secretsRotate)) {
            api, call in api.rotateKey(call)
        },
        Route(method: "GET", segments: ["v1", "snapshot"], access: .permission(.snapshotRead)) { api, call in
            api.snapshot(call)
        },
        // Tunnels and mappings.
        Route(method: "GET", segments: ["v1", "tunnels"], access: .permission(.tunnelsRead)) { api, call in
            api.listTunnels(call)
        },
        Route(method: "POST", segments: ["v1", "tunnels"], access: .permission(.tunnelsWrite)) { api, call in
            api.createTunnel(call)
        },
        Route(method: "GET", segments: ["v1", "tunnels", ":id"], access: .permission(.tunnelsRead)) { api, call in
            api.showTunnel(call)
        },
        Route(method: "POST", segments: ["v1", "tunnels", ":id", "close"], access: .permission(.tunnelsWrite)) {
            api, call in api.closeTunnel(call)
        },
        Route(method: "GET", segments: ["v1", "mappings"], access: .permission(.mappingsRead)) { api, call in
            api.listMappings(call)
        },
        Route(method: "POST", segments: ["v1", "mappings"], access: .permission(.mappingsWrite)) { api, call in
            api.addMapping(call)
        },
        Route(method: "DELETE", segments: ["v1", "mappings", ":id"], access: .permission(.mappingsWrite)) {
            api, call in api.write(call, .mappingRemove(.init(id: call.param("id"))))
        },
        // Proxy endpoints and forwarding rules.
        Route(method: "GET", segments: ["v1", "endpoints"], access: .permission(.endpointsRead)) { api, call in
            api.listEndpoints(call)
        },
        Route(method: "POST", segments: ["v1", "endpoints"], access: .permission(.endpointsWrite)) { api, call in
            api.createEndpoint(call)
        },
        Route(method: "GET", segments: ["v1", "endpoints", ":id"], access: .permission(.endpointsRead)) {
            api, call in api.showEndpoint(call)
        },
        Route(method: "DELETE", segments: ["v1", "endpoints", ":id"], access: .permission(.endpointsWrite)) {
            api, call in api.write(call, .endpointDelete(.init(id: call.param("id"))))
        },
        Route(
            method: "POST", segments: ["v1", "endpoints", ":id", "associate"], access: .permission(.endpointsWrite)
        ) { api, call in api.scopeEndpoint(call, associate: true) },
        Route(
            method: "POST", segments: ["v1", "endpoints", ":id", "unassociate"], access: .permission(.endpointsWrite)
        ) { api, call in api.scopeEndpoint(call, associate: false) },
        Route(method: "GET", segments: ["v1", "forwards"], access: .permission(.forwardsRead)) { api, call in
            api.listForwards(call)
        },
        Route(method: "POST", segments: ["v1", "forwards"], access: .permission(.forwardsWrite)) { api, call in
            api.addForward(call)
        },
        Route(method: "DELETE", segments: ["v1", "forwards", ":id"], access: .permission(.forwardsWrite)) {
            api, call in api.write(call, .forwardRemove(.init(id: call.param("id"))))
        },
        Route(method: "GET", segments: ["v1", "connectors"], access: .permission(.connectorsRead)) { api, call in
            api.listConnectors(call)
        },
        Route(
            method: "POST", segments: ["v1", "connectors", ":id", "revoke"], access: .permission(.connectorsRevoke)
        ) { api, call in api.write(call, .connectorRevoke(.init(id: call.param("id")))) },
        // Sessions and draining (AdminAPI+SessionList.swift).
        Route(method: "GET", segments: ["v1", "sessions"], access: .permission(.sessionsRead)) { api, call in
            api.listSessions(call)
        },
        Route(method: "DELETE", segments: ["v1", "sessions", ":id"], access: .permission(.sessionsKill)) {
            api, call in api.killSession(call)
        },
        Route(method: "POST", segments: ["v1", "nodes", ":id", "drain"], access: .permission(.clusterWrite)) {
            api, call in api.drainNode(call)
        },
        // Certificates: CA rotation, node revocation.
        Route(method: "GET", segments: ["v1", "cert", "rotate-ca"], access: .permission(.clusterRead)) { api, call in
            api.rotateCAStatus(call)
        },
        Route(method: "POST", segments: ["v1", "cert", "rotate-ca"], access: .permission(.secretsRotate)) {
            api, call in api.rotateCA(call)
        },
        Route(method: "POST", segments: ["v1", "nodes", ":id", "revoke"], access: .permission(.clusterWrite)) {
            api, call in api.revokeNode(call)
        },
        // Users.
        Route(method: "GET", segments: ["v1", "users"], access: .permission(.usersRead)) { api, call in
            api.listUsers(call)
        },
        Route(method: "POST", segments: ["v1", "users"], access: .permission(.usersWrite)) { api, call in
            api.addUser(call)
        },
        Route(method: "DELETE", segments: ["v1", "users", ":name"], access: .permission(.usersWrite)) { api, call in
            api.write(call, .userRemove(.init(name: call.param("name"))))
        },
        Route(method: "PATCH", segments: ["v1", "users", ":name"], access: .permission(.usersWrite)) { api, call in
            api.updateUser(call)
        },
        // Audit.
        Route(method: "GET", segments: ["v1", "audit"], access: .permission(.auditRead)) { api, call in
            api.listAudit(call)
        },
        Route(method: "GET", segments: ["v1", "audit", "export"], access: .permission(.auditExport)) { api, call in
            api.exportAudit(call)
        },
        Route(method: "GET", segments: ["v1", "audit", "verify"], access: .permission(.auditRead)) { api, call in
            api.verifyAudit(call)
        },
        // Node to node.
        Route(method: "POST", segments: ["v1", "internal", "propose"], access: .node) { api, call in
            api.internalPropose(call)
        },
        Route(method: "POST", segments: ["v1", "internal", "read-index"], access: .node) { api, call in
            api.internalReadIndex(call)
        },
        Route(method: "GET", segments: ["v1", "internal", "relay"], access: .node) { api, call in
            api.internalRelay(call)
        },
        Route(method: "GET", segments: ["v1", "internal", "tunnel-receipt"], access: .node) { api, call in
            api.internalTunnelReceipt(call)
        },
        Route(method: "GET", segments: ["v1", "internal", "sessions"], access: .node) { api, call in
            api.internalSessions(call)
        },
        Route(method: "DELETE", segments: ["v1", "internal", "sessions", ":id"], access: .node) { api, call in
            api.internalKillSession(call)
        },
        Route(method: "GET", segments: ["v1", "internal", "node-info"], access: .node) { api, call in
            api.internalNodeInfo(call)
        },
        Route(method: "POST", segments: ["v1", "internal", "membership"], access: .node) { api, call in
            api.internalMembership(call)
        },
    ]
}
