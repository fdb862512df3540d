import Foundation
import Tunnel

/// Replacing a connector's certificate and key after a renewal, crash-safe.
///
/// The cluster records the new serial (`connector.renew`) before it answers, so after a
/// renewal only the new pair is accepted: a crash half-way must never leave the old
/// certificate beside the new key, nor lose the new pair. So the new pair is first written
/// beside the old (`connector-next-key.pem`, then `connector-next.pem`, each atomically),
/// then renamed over the key, then over the certificate. `completeInterruptedRenewal` at
/// start-up finishes whatever renames a crash left undone.
extension ConnectorIdentity {
    static func nextPaths(_ dir: String) -> (certificate: String, key: String) {
        ("\(dir)/connector-next.pem", "\(dir)/connector-next-key.pem")
    }

    /// Installs a renewed certificate and its key, and the cluster's CA bundle.
    static func saveRenewed(_ dir: String, certificatePEM: String, key: PrivateKey, caPEM: String) throws {
        let next = nextPaths(dir)
        try key.write(toFile: next.key)
        try PKIFile.writeAtomically(Array(certificatePEM.utf8), to: next.certificate, mode: 0o644)
        try saveCA(dir, caPEM: caPEM)
        try completeInterruptedRenewal(dir)
    }

    /// Replaces the trusted CA bundle (a CA rotation adds the new CA, then drops the old).
    static func saveCA(_ dir: String, caPEM: String) throws {
        try PKIFile.writeAtomically(Array(caPEM.utf8), to: paths(dir).ca, mode: 0o644)
    }

    /// Finishes the renames of a renewal: a complete `connector-next.pem` means the new
    /// pair is authoritative (its key is either still beside it or already renamed).
    static func completeInterruptedRenewal(_ dir: String) throws {
        let next = nextPaths(dir)
        let p = paths(dir)
        let manager = FileManager.default
        guard manager.fileExists(atPath: next.certificate) else {
            // A crash before the certificate was written: the old pair is still the one.
            if manager.fileExists(atPath: next.key) { try? manager.removeItem(atPath: next.key) }
            return
        }
        if manager.fileExists(atPath: next.key) { try move(next.key, over: p.key) }
        try move(next.certificate, over: p.certificate)
    }

    private static func move(_ from: String, over to: String) throws {
        guard rename(from, to) == 0 else {
            throw CommandError("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }
}
