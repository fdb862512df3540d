import Foundation
import Tunnel

/// `warren ctl cert rotate-ca begin|status|finish|abort` and `warren ctl node revoke`.
enum CtlCertCommands {
    static let rotateCAPath = "/v1/cert/rotate-ca"

    /// The status as tables: the CAs, then each member and live connector and whether it moved.
    static func render(_ s: AdminAPI.RotationStatus) -> String {
        var out = "Phase: \(s.phase)"
        if let old = s.oldCA, let new = s.newCA { out += " (old \(old.prefix(16)) → new \(new.prefix(16)))" }
        out += "\nRevoked serials: \(s.revokedSerials)\n\n"
        var cas = TextTable(["CA FINGERPRINT", "SUBJECT", "EXPIRES"])
        for ca in s.cas { cas.add([String(ca.fingerprint.prefix(16)), ca.subject, CtlTime.rfc3339(ms: ca.notAfter * 1000)]) }
        out += cas.render() + "\n"
        var members = TextTable(["NODE", "SERIAL", "CA", "MOVED"])
        for m in s.members {
            members.add([m.id, CtlOutput.orDash(m.serial), CtlOutput.orDash(m.ca.map { String($0.prefix(16)) }), m.moved ? "yes" : "no"])
        }
        out += members.render() + "\n"
        var connectors = TextTable(["CONNECTOR", "TUNNEL", "SERIAL", "CA", "MOVED"])
        for c in s.connectors {
            connectors.add([c.id, c.tunnelId, c.serial, CtlOutput.orDash(c.ca.map { String($0.prefix(16)) }), c.moved ? "yes" : "no"])
        }
        out += connectors.render()
        if !s.pending.isEmpty { out += "\nStill on the old CA: \(s.pending.joined(separator: ", "))\n" }
        return out
    }

    /// The new CA for `begin`: `--ca FILE`, else `DIR/ca-next.pem` from `--pki DIR`,
    /// created with its key (0600) when absent. The key never leaves the folder.
    static func newCA(_ args: ParsedArguments) throws -> (pem: String, note: String) {
        if let file = args.string("ca") {
            do { return (try PKIFile.readText(file), "Using the new CA in \(file).") } catch {
                throw CtlError("cannot read \(file): \(error)")
            }
        }
        guard let dir = args.pki else {
            throw ArgumentError.invalidValue("--ca", "", expected: "the new CA certificate (or --pki DIR to create DIR/ca-next.pem)")
        }
        let certificatePath = PKIFiles.certificatePath(dir, "ca-next")
        let keyPath = PKIFiles.keyPath(dir, "ca-next")
        if FileManager.default.fileExists(atPath: certificatePath) {
            return (try PKIFile.readText(certificatePath), "Using the existing \(certificatePath).")
        }
        let days = try args.int("ca-days", default: 3650, in: 1...36_500)
        let now = PKIFiles.now()
        let ca = try CertificateAuthority.create(
            commonName: "Warren cluster CA \(PKIReport.isoDate(now).prefix(10))",
            notBefore: now - CertificateProfile.clockSkewSeconds, notAfter: now + Int64(days) * 86_400)
        _ = try PKIFiles.write("ca-next", certificate: ca.certificate, key: ca.key, in: dir)
        return (
            try ca.certificate.pemString(),
            "Created \(certificatePath) and \(keyPath) (0600): copy both to every node's PKI folder."
        )
    }
}

enum CtlCertRotateCABeginCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "cert", "rotate-ca", "begin"],
        summary: "Start a CA rotation: trust a new CA beside the current one (the overlap).",
        details: """
            The new CA's certificate joins the replicated trust bundle; its key stays in the PKI
            folders (DIR/ca-next-key.pem) and never travels. Without --ca, DIR/ca-next.pem and
            its key are created in --pki DIR if absent. Nodes holding ca-next-key.pem sign
            connector certificates under the new CA at once; connectors renew within a minute.
            Next: issue node (and admin) certificates under it with
            'warren pki issue --pki DIR --ca ca-next ...', watch 'cert rotate-ca status', then 'finish'.
            """,
        flags: [
            .value("ca", "FILE", "The new CA certificate (PEM). Default: --pki DIR/ca-next.pem, created if absent."),
            .value("ca-days", "N", "Lifetime of a CA created here, in days (default 3650)."),
        ])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let client = try CtlClient.forCommand(args)
        let (pem, note) = try CtlCertCommands.newCA(args)
        if !args.json { CtlOutput.write(note + "\n") }
        let bytes = try client.call("POST", CtlCertCommands.rotateCAPath, body: ["action": "begin", "ca": pem])
        try CtlOutput.emit(bytes, args, line: "CA rotation begun: both CAs are trusted (phase overlap).")
        return 0
    }
}

enum CtlCertRotateCAStatusCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "cert", "rotate-ca", "status"],
        summary: "Show the rotation phase, the trusted CAs and who presents a certificate of which CA.")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("GET", CtlCertCommands.rotateCAPath)
        try CtlOutput.emit(bytes, args, as: AdminAPI.RotationStatus.self) { CtlCertCommands.render($0) }
        return 0
    }
}

enum CtlCertRotateCAFinishCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "cert", "rotate-ca", "finish"],
        summary: "End a CA rotation: stop trusting the old CA everywhere.",
        details: """
            Refused (409 not_moved, naming them) while a member, a live connector or the admin
            certificate of this call still presents a certificate of the old CA; --force skips
            the check. Afterwards replace ca.pem and ca-key.pem with ca-next.pem and
            ca-next-key.pem in every PKI folder (docs/OPERATIONS.md).
            """,
        flags: [.bool("force", "Finish even though some still present old-CA certificates (they will be refused).")])

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call(
            "POST", CtlCertCommands.rotateCAPath, body: ["action": "finish", "force": args.bool("force")])
        try CtlOutput.emit(bytes, args, line: "CA rotation finished: only the new CA is trusted.")
        return 0
    }
}

enum CtlCertRotateCAAbortCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "cert", "rotate-ca", "abort"],
        summary: "Abandon a CA rotation: stop trusting the new CA (certificates it issued stop working).")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        try CtlArguments.none(args)
        let bytes = try CtlClient.forCommand(args).call("POST", CtlCertCommands.rotateCAPath, body: ["action": "abort"])
        try CtlOutput.emit(bytes, args, line: "CA rotation aborted: only the old CA is trusted.")
        return 0
    }
}

enum CtlNodeRevokeCommand: WarrenCommand {
    static let spec = CommandSpec(
        path: ["ctl", "node", "revoke"],
        summary: "Revoke a node's certificate: every node refuses that serial at every handshake.",
        details: """
            Revokes the serial the node presents now (asked live), or --serial HEX (an old
            certificate, or a node that does not answer). Issue the node a new certificate
            ('warren pki issue') first unless it should be cut off.
            """,
        flags: [.value("serial", "HEX", "The certificate serial to revoke (default: the one the node presents).")],
        positionals: "ID")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        let id = try CtlArguments.name(try CtlArguments.positional(args, "a node ID"), "node ID")
        var body: [String: Any] = [:]
        if let serial = args.string("serial") { body["serial"] = serial }
        let bytes = try CtlClient.forCommand(args).call("POST", "/v1/nodes/\(id)/revoke", body: body)
        try CtlOutput.emit(bytes, args, line: "Revoked the certificate of node \(id).")
        return 0
    }
}
