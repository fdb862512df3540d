import Foundation
import Testing
import Tunnel

@testable import Node

/// One node for the suite: the console's files over real HTTPS.
private let node: TestNode = try! TestNode()

@Suite("Console serving", .serialized)
struct ConsoleServingTests {
    static let staticDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/Node/Console/Static")
        .path

    @Test func everyFileInTheFolderIsServedAndNothingElse() throws {
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Self.staticDir).filter { !$0.hasPrefix(".") }
        #expect(Set(onDisk) == Set(ConsoleAssets.files.keys))
        for name in onDisk {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.staticDir + "/" + name)))
            #expect(ConsoleAssets.files[name]?.body == bytes, "\(name) is embedded as it is on disk")
        }
    }

    @Test(arguments: [
        ("/", "text/html; charset=utf-8"),
        ("/ui", "text/html; charset=utf-8"),
        ("/ui/index.html", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/page-audit.js", "text/javascript; charset=utf-8"),
        ("/ui/console.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ])
    func filesCarryTheirContentTypeAndSecurityHeaders(path: String, type: String) throws {
        let response = try node.call("GET", path)
        #expect(response.status == .ok)
        let headers = response.headers
        #expect(headers["content-type"] == type)
        let csp = try #require(headers["content-security-policy"])
        #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"))
        #expect(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"))
        #expect(headers["x-frame-options"] == "DENY")
        #expect(headers["x-content-type-options"] == "nosniff")
        #expect(headers["referrer-policy"] == "no-referrer")
        #expect(headers["cache-control"] == "no-cache")
        #expect(headers.values(for: "cache-control").count == 1)
        let name = path == "/" || path == "/ui" ? "index.html" : String(path.dropFirst("/ui/".count))
        #expect(response.body == ConsoleAssets.files[name]?.body)
    }

    @Test func aMatchingETagIsAnsweredWith304() throws {
        let first = try node.call("GET", "/ui/app.js")
        let etag = try #require(first.headers["etag"])
        let again = try node.call("GET", "/ui/app.js", headers: ["If-None-Match": etag])
        #expect(again.status == .notModified && again.body.isEmpty)
        let other = try node.call("GET", "/ui/app.js", headers: ["If-None-Match": "\"stale\""])
        #expect(other.status == .ok && other.body == first.body)
    }

    @Test(arguments: [
        "/ui/nope.js", "/ui/..", "/ui/../Package.swift", "/ui/%2e%2e%2fPackage.swift", "/ui/..%2f..%2fetc%2fpasswd",
        "/ui/%2fetc%2fpasswd", "/ui//etc/passwd", "/ui/./app.js", "/ui/app.js/x", "/ui/APP.JS",
        "/ui/Static%2fapp.js", "/index.html",
    ])
    func unknownOrTraversingPathsAre404(path: String) throws {
        let response = try node.call("GET", path)
        #expect(response.status == .notFound, "\(path) → \(response.status)")
        #expect(node.errorCode(response) == "not_found")
        #expect(response.headers["x-frame-options"] == "DENY")
        #expect(ConsoleAssets.files.values.allSatisfy { $0.body != response.body })
    }

    @Test func aNulInThePathIsRefusedBeforeRouting() throws {
        let response = try node.call("GET", "/ui/app.js%00")
        #expect(response.status == .badRequest)
        #expect(response.body != ConsoleAssets.files["app.js"]?.body)
    }

    @Test func headAnswersWithoutABody() throws {
        let response = try node.call("HEAD", "/ui/app.js")
        #expect(response.status == .ok && response.body.isEmpty)
    }

    @Test func writesToConsolePathsAreRefused() throws {
        #expect(try node.call("POST", "/ui/app.js", body: "{}").status == .methodNotAllowed)
        #expect(try node.call("DELETE", "/").status == .methodNotAllowed)
    }

    @Test func whoamiNamesTheCallerAndItsPermissions() throws {
        #expect(try node.call("GET", "/v1/whoami").status == .unauthorized)
        let admin = node.json(try node.call("GET", "/v1/whoami", as: .adminCertificate))
        #expect(admin["role"] as? String == "admin" && admin["kind"] as? String == "admin-cert")
        let token = try node.user("wanda", role: "auditor")
        let auditor = node.json(try node.call("GET", "/v1/whoami", as: .token(token)))
        #expect(auditor["name"] as? String == "wanda" && auditor["role"] as? String == "auditor")
        let permissions = auditor["permissions"] as? [String] ?? []
        #expect(Set(permissions) == Set(Permission.allCases.filter { Role.auditor.allows($0) }.map(\.rawValue)))
        #expect(!permissions.contains("tunnels.write"))
    }

    /// The page's code stays CSP-clean and builds no markup from strings.
    @Test func staticFilesHaveNoInlineCodeOrStyle() throws {
        for (name, asset) in ConsoleAssets.files where name.hasSuffix(".html") || name.hasSuffix(".js") {
            let text = String(decoding: asset.body, as: UTF8.self)
            for banned in [
                "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "style=", "<style",
                "javascript:", "http://", "https://",
            ] {
                #expect(!text.contains(banned), "\(name) contains \(banned)")
            }
            if name.hasSuffix(".html") {
                #expect(!text.contains("<script>") && text.contains("<script type=\"module\" src=\"/ui/app.js\">"))
            }
        }
    }
}
