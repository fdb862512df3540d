import Foundation
import Tunnel

/// `warren pki init`: a new cluster CA plus one certificate per node and an admin one.
enum PKIInitCommand: WarrenCommand {
    static let defaultHosts = ["127.0.0.1", "localhost"]

    static let spec = CommandSpec(
        path: ["pki", "init"],
        summary: "Create a cluster CA, node certificates and an admin client certificate.",
        details: """
            Writes ca.pem, ca-key.pem, NODE.pem, NODE-key.pem for each node, admin.pem and
            admin-key.pem (ECDSA P-256, SHA-256; keys mode 0600). Node certificates are for
            server and client use with SANs for every --hosts entry plus the node name, and the
            role URI warren://node/NAME; the admin certificate is client-only (warren://admin/admin).

            Example: warren pki init --out pki --nodes n1,n2,n3 --hosts 127.0.0.1,localhost,lb.example.com
            """,
        flags: [
            .value("out", "DIR", "Folder to write (created if missing).", required: true),
            .list("nodes", "NAME", "Node names = node ids, e.g. n1,n2,n3.", required: true),
            .list("hosts", "HOST", "IP addresses and DNS names for node SANs (default 127.0.0.1,localhost)."),
            .value("days", "N", "Validity of node and admin certificates in days (default 365)."),
            .value("ca-days", "N", "Validity of the CA in days (default 3650)."),
            .value("ca-name", "CN", "Common name of the CA (default \"Warren cluster CA\")."),
            .bool("force", "Replace an existing CA (everything it issued stops being trusted)."),
        ])

    /// The validated inputs of one `pki init`.
    struct Options: Equatable {
        var directory: String
        var nodes: [String]
        var hosts: [String]
        var days: Int
        var caDays: Int
        var caName: String
        var force: Bool
    }

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let report = try perform(options(args), now: PKIFiles.now())
        try report.print(json: args.json)
        return 0
    }

    static func options(_ args: ParsedArguments) throws -> Options {
        let nodes = args.list("nodes")
        for name in nodes
        where !CertificateRole.isValidName(name) || PKIFiles.reservedNames.contains(name) || name == "admin" {
            throw ArgumentError.invalidValue(
                "--nodes", name, expected: "a node name (1–63 of A-Z a-z 0-9 . _ -, not ca or admin)")
        }
        guard Set(nodes).count == nodes.count else {
            throw ArgumentError.invalidValue(
                "--nodes", nodes.joined(separator: ","), expected: "a list without duplicates")
        }
        let hosts = args.values["hosts"] == nil ? defaultHosts : args.list("hosts")
        return Options(
            directory: try args.require("out"), nodes: nodes, hosts: hosts,
            days: try args.int("days", default: 365, in: 1...36_500),
            caDays: try args.int("ca-days", default: 3650, in: 1...36_500),
            caName: args.string("ca-name") ?? "Warren cluster CA", force: args.bool("force"))
    }

    /// Creates the CA and every certificate. Refuses to replace an existing CA unless `force`.
    static func perform(_ options: Options, now: Int64) throws -> PKIReport {
        let dir = options.directory
        let caCert = PKIFiles.certificatePath(dir, "ca")
        let caKey = PKIFiles.keyPath(dir, "ca")
        if !options.force, let existing = [caCert, caKey].first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw CommandError(
                "\(existing) exists; pass --force to replace the CA (certificates it issued stop being trusted)")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ca = try CertificateAuthority.create(
            commonName: options.caName, notBefore: now - CertificateProfile.clockSkewSeconds,
            notAfter: now + Int64(options.caDays) * 86_400)
        var entries: [PKIReport.Entry] = []
        let leaves = options.nodes.map { ($0, CertificateRole.node, options.hosts) } + [("admin", .admin, [])]
        for (name, role, hosts) in leaves {
            let profile = CertificateProfile.fromHosts(
                name: name, role: role, hosts: hosts, now: now, days: options.days)
            let (cert, key) = try ca.issueWithNewKey(profile)
            entries.append(try PKIFiles.write(name, certificate: cert, key: key, in: dir))
        }
        // The CA goes last: if anything above failed, a rerun needs no --force.
        let caEntry = try PKIFiles.write("ca", certificate: ca.certificate, key: ca.key, in: dir)
        return PKIReport(directory: dir, entries: [caEntry] + entries)
    }
}
