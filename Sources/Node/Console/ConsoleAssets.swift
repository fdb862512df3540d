import Tunnel

/// One file of the web console, as compiled into the binary.
struct ConsoleAsset: Sendable {
    /// The file name under `/ui/` (`app.js`).
    let name: String
    let contentType: String
    let body: [UInt8]
    /// A strong validator: the first 16 bytes of the body's SHA-256, quoted (RFC 9110 §8.8.3).
    let etag: String

    init(_ name: String, _ body: [UInt8]) {
        self.name = name
        self.body = body
        contentType = ConsoleAssets.contentType(of: name)
        etag = "\"" + Hex.encode(Array(SHA256.hash(body).prefix(16))) + "\""
    }
}

/// The console's static files (Sources/Node/Console/Static), embedded by SwiftPM's
/// `.embedInCode`, which flattens the folder into `PackageResources.<name>_<ext>`; so file
/// names there are unique and the folder has no subfolders.
///
/// Invariant: a request can only ever be answered with one of the files listed here — the
/// name is a dictionary key, never a filesystem path, so `..` or `%2f` cannot escape.
/// ConsoleServingTests checks that this list and the folder hold the same files.
enum ConsoleAssets {
    static let files: [String: ConsoleAsset] = {
        let list: [(String, [UInt8])] = [
            ("index.html", PackageResources.index_html),
            ("console.css", PackageResources.console_css),
            ("favicon.svg", PackageResources.favicon_svg),
            ("api.js", PackageResources.api_js),
            ("app.js", PackageResources.app_js),
            ("ui.js", PackageResources.ui_js),
            ("page-login.js", PackageResources.page_login_js),
            ("page-cluster.js", PackageResources.page_cluster_js),
            ("page-tunnels.js", PackageResources.page_tunnels_js),
            ("page-tunnel.js", PackageResources.page_tunnel_js),
            ("page-mappings.js", PackageResources.page_mappings_js),
            ("page-endpoints.js", PackageResources.page_endpoints_js),
            ("page-endpoint.js", PackageResources.page_endpoint_js),
            ("page-sessions.js", PackageResources.page_sessions_js),
            ("page-audit.js", PackageResources.page_audit_js),
            ("page-users.js", PackageResources.page_users_js),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.0, ConsoleAsset($0.0, $0.1)) })
    }()

    /// The page every console URL starts from (`/`, `/ui`, `/ui/`).
    static var index: ConsoleAsset { files["index.html"]! }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }

    /// Only files of this origin, no inline script or style, no framing, no plugins, and
    /// forms never submit (the console posts JSON with fetch).
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

    /// The answer to `GET /ui/<name>` (or `/` for the index): the file with its headers,
    /// 304 when `ifNoneMatch` names its current ETag, nil when there is no such file.
    static func response(for name: String, ifNoneMatch: String?) -> HTTPResponse? {
        guard let asset = files[name] else { return nil }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: asset.contentType)
        // Revalidate every time: the files change with the binary, and a 304 costs little.
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "ETag", value: asset.etag)
        applySecurityHeaders(to: &headers)
        let matches =
            ifNoneMatch?.split(separator: ",").contains { HTTPHeaders.trimmedValue($0) == asset.etag } ?? false
        if matches { return HTTPResponse(status: .notModified, headers: headers) }
        return HTTPResponse(status: .ok, headers: headers, body: asset.body)
    }

    /// Headers on every console answer (files and its 404s), besides `SecurityHeaders`.
    static func applySecurityHeaders(to headers: inout HTTPHeaders) {
        headers.add(name: "Content-Security-Policy", value: contentSecurityPolicy)
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        headers.add(name: "Cross-Origin-Opener-Policy", value: "same-origin")
        headers.add(name: "Cross-Origin-Resource-Policy", value: "same-origin")
    }
}

extension HTTPHeaders {
    /// `value` without leading and trailing spaces and tabs.
    fileprivate static func trimmedValue(_ value: Substring) -> String {
        String(value.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
