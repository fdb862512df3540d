import Foundation
import Testing
import Tunnel

@testable import Node

/// One node for the whole suite (starting one costs a PKI and an election).
private let node: TestNode = try! TestNode()

@Suite("Admin API over HTTPS", .serialized)
struct AdminAPITests {
    enum Caller: String, CaseIterable {
        case adminCertificate, adminUser, operatorUser, auditorUser, anonymous, expired, tampered, algNone, wrongKey
    }

    /// Tokens of each kind, made once.
    static let tokens: [Caller: String] = {
        var out: [Caller: String] = [:]
        out[.adminUser] = try! node.user("adam", role: "admin")
        out[.operatorUser] = try! node.user("olga", role: "operator")
        out[.auditorUser] = try! node.user("audrey", role: "auditor")
        let key = node.server.authenticator.currentKey!
        let now = Int64(Date().timeIntervalSince1970)
        out[.expired] = JWT.sign(.init(sub: "adam", role: "admin", iat: now - 7200, exp: now - 3600), key: key)
        let real = out[.auditorUser]!.split(separator: ".").map(String.init)
        let forged = JWT.Claims(sub: "audrey", role: "admin", iat: now, exp: now + 3600)
        out[.tampered] = real[0] + "." + Base64URL.encode(Array(try! JSONEncoder().encode(forged))) + "." + real[2]
        out[.algNone] =
            Base64URL.encode(Array(#"{"alg":"none","kid":"\#(key.id)","typ":"JWT"}"#.utf8)) + "."
            + Base64URL.encode(Array(try! JSONEncoder().encode(forged))) + "."
        out[.wrongKey] = JWT.sign(forged, key: JWT.Key(id: key.id, secret: Array(repeating: 1, count: 32)))
        return out
    }()

    func credential(_ caller: Caller) -> TestNode.Credential {
        switch caller {
        case .adminCertificate: .adminCertificate
        case .anonymous: .none
        default: .token(Self.tokens[caller]!)
        }
    }

    func role(_ caller: Caller) -> Role? {
        switch caller {
        case .adminCertificate, .adminUser: .admin
        case .operatorUser: .operator
        case .auditorUser: .auditor
        default: nil
        }
    }

    /// Every route × every kind of caller: 401 without valid credentials, 403 without the
    /// permission (or a node certificate on internal routes), otherwise the handler runs.
    @Test func rbacMatrix() throws {
        _ = Self.tokens
        for route in AdminAPI.routeTable where route.pattern != "/v1/auth/rotate-key" {
            let path = route.pattern.replacingOccurrences(of: ":id", with: "x").replacingOccurrences(
                of: ":name", with: "nobody")
            for caller in Caller.allCases {
                let response = try node.call(
                    route.method, path, body: route.method == "POST" ? "{}" : "", as: credential(caller))
                let status = response.status.code
                let label = "\(route.method) \(path) as \(caller.rawValue) → \(status)"
                switch route.access {
                case .open:
                    #expect(status != 401 && status != 403, "\(label)")
                case .node, .connector:
                    #expect(status == 403, "\(label)")
                case .signedIn:
                    if role(caller) != nil {
                        // Reads answer; a write with an empty body is refused on its content.
                        #expect(route.method == "GET" ? status == 200 : status != 401 && status != 403, "\(label)")
                    } else {
                        #expect(status == 401 && node.errorCode(response) == "unauthenticated", "\(label)")
                    }
                case .permission(let permission):
                    if let role = role(caller) {
                        if role.allows(permission) {
                            #expect(status != 401 && status != 403, "\(label)")
                        } else {
                            #expect(status == 403 && node.errorCode(response) == "forbidden", "\(label)")
                        }
                    } else {
                        #expect(status == 401 && node.errorCode(response) == "unauthenticated", "\(label)")
                    }
                }
            }
        }
    }

    /// Snapshot of the objects (not the audit, which records refusals).
    func objects() throws -> String {
        var parts: [String] = []
        for path in ["/v1/tunnels", "/v1/mappings", "/v1/endpoints", "/v1/forwards", "/v1/users"] {
            parts.append(String(decoding: try node.call("GET", path, as: .adminCertificate).body, as: UTF8.self))
        }
        return parts.joined(separator: "\n")
    }

    @Test(arguments: [
        ("POST", "/v1/tunnels", "{\"name\": ", 400, "invalid_json"),
        ("POST", "/v1/tunnels", "[1,2]", 400, "invalid_json"),
        ("POST", "/v1/tunnels", #"{"name":"a","colour":"red"}"#, 400, "unknown_field"),
        ("POST", "/v1/tunnels", #"{"name":"a","duration":"forever"}"#, 400, "invalid_value"),
        ("POST", "/v1/tunnels", #"{"name":"a","duration":"0h"}"#, 400, "invalid_value"),
        ("POST", "/v1/tunnels", #"{"name":"a b"}"#, 400, "invalid_value"),
        ("POST", "/v1/tunnels", #"{"name":"a","duration":"9000h"}"#, 400, "invalid_value"),
        ("POST", "/v1/mappings", #"{"tunnelId":"t-none","target":"10.0.0.1:80","listenPort":70000}"#, 400,
         "invalid_value"),
        ("POST", "/v1/mappings", #"{"tunnelId":"t-none","target":"10.0.0.1:80","listenPort":"80"}"#, 400,
         "invalid_value"),
        ("POST", "/v1/endpoints", #"{"name":"e","subnets":["10.0.0.0/33"]}"#, 400, "invalid_value"),
        ("POST", "/v1/endpoints", #"{"name":"e","subnets":["banana"]}"#, 400, "invalid_value"),
        ("POST", "/v1/forwards", #"{"endpointId":"e-x","kind":"sideways","listenPort":1,"target":"a:1"}"#, 400,
         "invalid_value"),
        ("GET", "/v1/audit?limit=0", "", 400, "invalid_value"),
        ("GET", "/v1/audit?since=yesterday", "", 400, "invalid_value"),
        ("GET", "/v1/audit/export?format=xml", "", 400, "invalid_value"),
        ("GET", "/v1/nowhere", "", 404, "not_found"),
        ("PUT", "/v1/tunnels", "{}", 405, "method_not_allowed"),
    ])
    func badInputIsRefusedAndChangesNothing(method: String, path: String, body: String, status: Int, code: String)
        throws
    {
        let before = try objects()
        let response = try node.call(method, path, body: body, as: .adminCertificate)
        #expect(response.status.code == status, "\(String(decoding: response.body, as: UTF8.self))")
        #expect(node.errorCode(response) == code)
        #expect(try objects() == before)
    }

    @Test func oversizedBodyIs413() throws {
        let before = try objects()
        let big = #"{"name":"x","pad":""# + String(repeating: "a", count: 2 << 20) + "\"}"
        let response = try node.call("POST", "/v1/tunnels", body: big, as: .adminCertificate)
        #expect(response.status.code == 413)
        #expect(try objects() == before)
    }

    /// CSRF: a browser holding the admin certificate sends it with a cross-site form post;
    /// such a request names its origin and is refused, changing nothing. Same-origin writes
    /// (the console) and requests without an Origin (ctl, connectors, nodes) go through.
    @Test func crossOriginWritesAreRefused() throws {
        let before = try objects()
        for origin in ["https://evil.example", "null", "http://127.0.0.1:\(node.port)"] {
            var headers = HTTPHeaders()
            headers.add(name: "Origin", value: origin)
            let forged = try node.call(
                "POST", "/v1/tunnels", body: #"{"name":"csrf"}"#, as: .adminCertificate, headers: headers)
            #expect(forged.status.code == 403, "Origin \(origin): \(String(decoding: forged.body, as: UTF8.self))")
            #expect(node.errorCode(forged) == "forbidden")
        }
        #expect(try objects() == before)
        var sameOrigin = HTTPHeaders()
        sameOrigin.add(name: "Origin", value: "https://127.0.0.1:\(node.port)")
        let read = try node.call("GET", "/v1/tunnels", as: .adminCertificate, headers: ["Origin": "https://evil.example"])
        #expect(read.status.code == 200)  // reads are kept from other sites by the browser's same-origin policy
        let created = try node.call(
            "POST", "/v1/tunnels", body: #"{"name":"same-origin"}"#, as: .adminCertificate, headers: sameOrigin)
        #expect(created.status.code == 201, "\(String(decoding: created.body, as: UTF8.self))")
    }

    @Test func tunnelLifecycleThroughTheAPI() throws {
        let token = Self.tokens[.operatorUser]!
        let created = try node.call("POST", "/v1/tunnels", body: #"{"name":"ops","duration":"48h"}"#, as: .token(token))
        #expect(created.status.code == 201)
        let body = node.json(created)
        let tunnel = try #require(body["tunnel"] as? [String: Any])
        let id = try #require(tunnel["id"] as? String)
        let url = try #require(body["connectUrl"] as? String)
        #expect(url.contains("/v1/connect/\(id)?token=") && url.contains("&ca=sha256:"))
        #expect((tunnel["expiresAt"] as? Int64 ?? 0) - (tunnel["createdAt"] as? Int64 ?? 0) == 48 * 3600 * 1000)
        let mapping = try node.call(
            "POST", "/v1/mappings", body: #"{"tunnelId":"\#(id)","kind":"expose","target":"10.1.2.3:22","listenPort":2222}"#,
            as: .token(token))
        #expect(mapping.status.code == 201)
        let shown = node.json(try node.call("GET", "/v1/tunnels/\(id)", as: .token(token)))
        #expect((shown["mappings"] as? [Any])?.count == 1)
        #expect(try node.call("POST", "/v1/tunnels/\(id)/close", body: "{}", as: .token(token)).status.code == 200)
        let again = try node.call("POST", "/v1/tunnels/\(id)/close", body: "{}", as: .token(token))
        #expect(again.status.code == 409 && node.errorCode(again) == "already_closed")
        let closed = node.json(try node.call("GET", "/v1/tunnels/\(id)", as: .token(token)))
        #expect((closed["tunnel"] as? [String: Any])?["state"] as? String == "closed")
        // The secret is shown once and stored nowhere: not in the state, not in the audit.
        let secret = String(url.split(separator: "token=")[1].split(separator: "&")[0])
        let snapshot = String(decoding: try node.call("GET", "/v1/snapshot", as: .adminCertificate).body, as: UTF8.self)
        #expect(!snapshot.contains(secret))
        #expect(!snapshot.contains("correct horse battery"))
    }

    @Test func wrongPasswordIs401AndAudited() throws {
        _ = Self.tokens
        // From just before the login: the suite's other tests (the RBAC matrix) may have
        // written over a thousand records already, and pages run oldest first.
        let since = Int64(Date().timeIntervalSince1970 * 1000) - 1000
        let response = try node.call("POST", "/v1/login", body: #"{"username":"olga","password":"nope nope"}"#)
        #expect(response.status.code == 401)
        try waitUntil("the failed login is in the audit") {
            let page = node.json(
                (try? node.call("GET", "/v1/audit?since=\(since)&limit=1000", as: .adminCertificate)) ?? .init(status: 500))
            let records = page["records"] as? [[String: Any]] ?? []
            return records.contains { $0["action"] as? String == "login" && $0["outcome"] as? String == "denied" }
        }
    }

    /// "Load more" pages visit every record once, in order, and match the export.
    @Test func auditPagesNeverSkipOrRepeat() throws {
        for i in 0..<45 {
            _ = try node.call("POST", "/v1/endpoints", body: #"{"name":"page\#(i)"}"#, as: .adminCertificate)
        }
        var seen: [Int] = []
        var after: Int?
        repeat {
            let path = "/v1/audit" + (after.map { "?after=\($0)" } ?? "")
            let page = node.json(try node.call("GET", path, as: .adminCertificate))
            let records = page["records"] as? [[String: Any]] ?? []
            #expect(records.count <= 20)
            seen += records.compactMap { $0["seq"] as? Int }
            after = page["nextCursor"] as? Int
        } while after != nil
        #expect(seen.count >= 45)
        #expect(seen == Array(seen.sorted()) && Set(seen).count == seen.count)
        #expect(seen.first == 1 && seen.last == seen.count)
        let export = String(
            decoding: try node.call("GET", "/v1/audit/export?format=json", as: .adminCertificate).body, as: UTF8.self)
        #expect(export.split(separator: "\n").count >= seen.count)
        let csv = try node.call("GET", "/v1/audit/export?format=csv", as: .adminCertificate)
        #expect(csv.headers["content-type"]?.hasPrefix("text/csv") == true)
        #expect(String(decoding: csv.body, as: UTF8.self).hasPrefix("seq,at,actorKind"))
        let verify = node.json(try node.call("GET", "/v1/audit/verify", as: .adminCertificate))
        #expect(verify["ok"] as? Bool == true)
    }

    @Test func timeFiltersAreInclusiveThenExclusive() throws {
        let all = node.json(try node.call("GET", "/v1/audit?limit=1000", as: .adminCertificate))
        let records = try #require(all["records"] as? [[String: Any]])
        let pivot = try #require(records.dropFirst(records.count / 2).first?["at"] as? Int)
        let since = node.json(try node.call("GET", "/v1/audit?limit=1000&since=\(pivot)", as: .adminCertificate))
        let until = node.json(try node.call("GET", "/v1/audit?limit=1000&until=\(pivot)", as: .adminCertificate))
        let a = since["records"] as? [[String: Any]] ?? []
        let b = until["records"] as? [[String: Any]] ?? []
        #expect(a.allSatisfy { ($0["at"] as? Int ?? 0) >= pivot })
        #expect(b.allSatisfy { ($0["at"] as? Int ?? 0) < pivot })
        #expect(a.count + b.count >= records.count)
    }

    @Test func healthReadinessAndMetricsAreOpen() throws {
        #expect(try node.call("GET", "/healthz").status.code == 200)
        #expect(try node.call("GET", "/readyz").status.code == 200)
        let metrics = String(decoding: try node.call("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("warren_raft_role{role=\"leader\"} 1.0"))
        #expect(metrics.contains("warren_api_request_seconds_bucket"))
        let status = node.json(try node.call("GET", "/v1/status", as: .adminCertificate))
        #expect(status["leader"] as? String == "n1")
    }

    /// A token counts only while its user exists, with the user's current role, and only
    /// for the user it was issued to (not a later user of the same name).
    @Test func tokensFollowTheReplicatedUsers() throws {
        _ = Self.tokens
        let key = try #require(node.server.authenticator.currentKey)
        let rita = try node.user("rita", role: "operator")
        #expect(try node.call("GET", "/v1/tunnels", as: .token(rita)).status.code == 200)
        // A token claiming another role (signed with the real key) gets the user's own role.
        let claims = try #require(try? node.server.authenticator.verify(rita, now: Int64(Date().timeIntervalSince1970)))
        var claimsAdmin = claims
        claimsAdmin.role = "admin"
        let claimingAdmin = JWT.sign(claimsAdmin, key: key)
        #expect(try node.call("GET", "/v1/users", as: .token(claimingAdmin)).status.code == 403)
        #expect(try node.call("GET", "/v1/users", as: .adminCertificate).status.code == 200)

        // Removed: every token of hers stops working at once.
        #expect(try node.call("DELETE", "/v1/users/rita", as: .adminCertificate).status.code == 200)
        let afterRemoval = try node.call("GET", "/v1/tunnels", as: .token(rita))
        #expect(afterRemoval.status.code == 401 && node.errorCode(afterRemoval) == "unauthenticated")

        // Added again under the same name: the old token still does not count; a new one does.
        let second = try node.user("rita", role: "auditor")
        #expect(try node.call("GET", "/v1/tunnels", as: .token(rita)).status.code == 401)
        #expect(try node.call("GET", "/v1/tunnels", as: .token(second)).status.code == 200)
        // A token without the version claim (issued by an older node) is refused too.
        var legacy = claims
        legacy.ver = nil
        #expect(try node.call("GET", "/v1/tunnels", as: .token(JWT.sign(legacy, key: key))).status.code == 401)

        // Promoted: the same token now acts as an admin. A new password signs her out.
        let patch = try node.call("PATCH", "/v1/users/rita", body: #"{"role":"admin"}"#, as: .adminCertificate)
        #expect(patch.status.code == 200)
        #expect(try node.call("GET", "/v1/users", as: .token(second)).status.code == 200)
        let short = try node.call("PATCH", "/v1/users/rita", body: #"{"password":"short"}"#, as: .adminCertificate)
        #expect(short.status.code == 400 && node.errorCode(short) == "invalid_value")
        let reset = try node.call(
            "PATCH", "/v1/users/rita", body: #"{"password":"a brand new one"}"#, as: .adminCertificate)
        #expect(reset.status.code == 200)
        #expect(try node.call("GET", "/v1/tunnels", as: .token(second)).status.code == 401)
        let login = try node.call("POST", "/v1/login", body: #"{"username":"rita","password":"a brand new one"}"#)
        #expect(login.status.code == 200)

        // Any user may change their own password, knowing the current one; not their role.
        let third = try #require(node.json(login)["token"] as? String)
        let wrong = try node.call(
            "POST", "/v1/whoami/password", body: #"{"current":"not it","new":"third password"}"#, as: .token(third))
        #expect(wrong.status.code == 403)
        let byCertificate = try node.call(
            "POST", "/v1/whoami/password", body: #"{"current":"x","new":"third password"}"#, as: .adminCertificate)
        #expect(byCertificate.status.code == 400)
        #expect(try node.call("PATCH", "/v1/users/rita", body: #"{"role":"operator"}"#, as: .adminCertificate)
            .status.code == 200)
        let own = try node.call(
            "POST", "/v1/whoami/password", body: #"{"current":"a brand new one","new":"third password"}"#,
            as: .token(third))
        #expect(own.status.code == 200, "\(String(decoding: own.body, as: UTF8.self))")
        #expect(try node.call("GET", "/v1/tunnels", as: .token(third)).status.code == 401)
        let fourth = try #require(
            node.json(try node.call("POST", "/v1/login", body: #"{"username":"rita","password":"third password"}"#))[
                "token"] as? String)
        let selfPromotion = try node.call("PATCH", "/v1/users/rita", body: #"{"role":"admin"}"#, as: .token(fourth))
        #expect(selfPromotion.status.code == 403)
        #expect(try node.call("DELETE", "/v1/users/rita", as: .adminCertificate).status.code == 200)
    }

    /// Last: rotating the key signs everyone out.
    @Test func zzRotatingTheKeyRevokesTokens() throws {
        let token = Self.tokens[.adminUser]!
        #expect(try node.call("GET", "/v1/tunnels", as: .token(token)).status.code == 200)
        #expect(try node.call("POST", "/v1/auth/rotate-key", body: "{}", as: .token(token)).status.code == 200)
        let after = try node.call("GET", "/v1/tunnels", as: .token(token))
        #expect(after.status.code == 401)
    }
}
