import Foundation
import Tunnel

/// `warren pki issue`: (re)issues one certificate from the CA in a PKI folder.
enum PKIIssueCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["pki", "issue"],
        summary: "Issue or renew one certificate from the CA in a PKI folder.",
        details: """
            Reads DIR/ca.pem and DIR/ca-key.pem (DIR/ca-next.pem and its key with --ca ca-next,
            during a CA rotation) and writes DIR/NAME.pem and DIR/NAME-key.pem
            atomically (key first, then certificate, so a watching node reloads a matching pair).
            A new key is made unless --keep-key. Node certificates get SANs for every --hosts entry
            plus NAME; admin and connector certificates are client-only.

            Example: warren pki issue --pki pki --name n1 --hosts 127.0.0.1,localhost,lb.example.com
            """,
        flags: [
            .value("name", "NAME", "Certificate name: node id, admin or connector name.", required: true),
            .list(
                "hosts", "HOST",
                "IP addresses and DNS names for SANs (default: none, or 127.0.0.1,localhost for nodes)."),
            .value("role", "ROLE", "node, admin or connector (default node)."),
            .value("days", "N", "Validity in days (default 365)."),
            .bool("keep-key", "Reuse DIR/NAME-key.pem instead of making a new key."),
            .value("ca", "STEM", "Issue from DIR/STEM.pem and DIR/STEM-key.pem: ca (default) or ca-next."),
        ],
        requiredGlobals: ["pki"])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let dir = try args.require("pki")
        let name = try args.require("name")
        guard CertificateRole.isValidName(name), !PKIFiles.reservedNames.contains(name) else {
            throw ArgumentError.invalidValue("--name", name, expected: "a name (1–63 of A-Z a-z 0-9 . _ -, not ca)")
        }
        let roleText = try args.choice("role", CertificateRole.allCases.map(\.rawValue), default: "node")
        let role = CertificateRole(rawValue: roleText)!
        let defaultHosts = role == .node ? PKIInitCommand.defaultHosts : []
        let hosts = args.values["hosts"] == nil ? defaultHosts : args.list("hosts")
        let days = try args.int("days", default: 365, in: 1...36_500)
        let stem = try args.choice("ca", ConnectorSigner.caStems, default: "ca")
        let entry = try perform(
            directory: dir, name: name, role: role, hosts: hosts, days: days, keepKey: args.bool("keep-key"),
            now: PKIFiles.now(), caStem: stem)
        try PKIReport(directory: dir, entries: [entry]).print(json: args.json)
        return 0
    }

    static func perform(
        directory dir: String, name: String, role: CertificateRole, hosts: [String], days: Int, keepKey: Bool,
        now: Int64, caStem: String = "ca"
    ) throws -> PKIReport.Entry {
        let ca = try CertificateAuthority.load(
            certificatePath: PKIFiles.certificatePath(dir, caStem), keyPath: PKIFiles.keyPath(dir, caStem))
        let key = keepKey ? try PrivateKey(contentsOfFile: PKIFiles.keyPath(dir, name)) : try PrivateKey.generateP256()
        let profile = CertificateProfile.fromHosts(name: name, role: role, hosts: hosts, now: now, days: days)
        let cert = try ca.issue(profile, for: key.publicKey)
        return try PKIFiles.write(name, certificate: cert, key: keepKey ? nil : key, in: dir)
    }
}
