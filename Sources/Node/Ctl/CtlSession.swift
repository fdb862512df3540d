import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `warren ctl login` caches: where the cluster is, the CA to trust, and the token.
/// `description` never shows the token.
struct CtlSession: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Server URLs, in the order to try them.
    var servers: [String]
    /// Absolute path of the CA certificate the servers' certificates chain to.
    var caFile: String
    /// The JWT; a secret: never printed or logged.
    var token: String
    var user: String
    var role: String
    /// When the token stops working, Unix milliseconds.
    var expiresAt: Int64

    var description: String { "session of \(user) (\(role)) until \(CtlTime.rfc3339(ms: expiresAt))" }
}

/// The session file: `$WARREN_CONFIG_DIR/session.json`, else `~/.config/warren/session.json`.
/// Written atomically with mode 0600 in a 0700 folder; a file others can read is refused
/// (someone may have copied the token), as ssh refuses a readable private key.
enum CtlSessionFile {
    static let fileName = "session.json"

    /// The session file's path for `environment` (the process environment by default).
    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) throws(CtlError) -> String {
        if let dir = environment["WARREN_CONFIG_DIR"], !dir.isEmpty { return "\(dir)/\(fileName)" }
        guard let home = environment["HOME"], !home.isEmpty else {
            throw CtlError("neither WARREN_CONFIG_DIR nor HOME is set: cannot find the session file")
        }
        return "\(home)/.config/warren/\(fileName)"
    }

    /// The saved session, or nil when there is none. Refuses a file group or others can
    /// read or write, and one that is not a regular file.
    static func load(_ path: String) throws(CtlError) -> CtlSession? {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return nil }
            throw CtlError("cannot inspect the session file \(path): \(AtomicFileWriter.errnoText())")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CtlError("the session file \(path) is not a regular file: remove it and run warren ctl login")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CtlError(
                "the session file \(path) is accessible to others (mode \(String(mode, radix: 8))): "
                    + "remove it, run warren ctl login, and consider the token leaked (warren ctl auth rotate-key)")
        }
        guard let bytes = try CtlFiles.readSmall(path, bytesMax: 64 * 1024) else { return nil }
        guard let session = try? JSONDecoder().decode(CtlSession.self, from: Data(bytes)) else {
            throw CtlError.notSignedIn("the session file \(path) is unreadable")
        }
        return session
    }

    /// Saves `session` atomically with mode 0600, creating its folder with mode 0700.
    static func save(_ session: CtlSession, to path: String) throws(CtlError) {
        let folder = CtlFiles.folder(of: path)
        try makeFolder(folder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(session)) + [0x0A] } catch {
            preconditionFailure("a session of strings and integers always encodes: \(error)")
        }
        let writer = try AtomicFileWriter(path: path, mode: 0o600)
        try writer.write(bytes)
        try writer.commit()
    }

    /// Removes the session file; false when there was none.
    static func remove(_ path: String) throws(CtlError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw CtlError("cannot remove the session file \(path): \(AtomicFileWriter.errnoText())")
    }

    /// Creates `folder` and missing parents; the ones created get mode 0700. An existing
    /// folder is left as it is (it may be shared, like $HOME).
    private static func makeFolder(_ folder: String) throws(CtlError) {
        var info = stat()
        if stat(folder, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw CtlError("\(folder) is not a folder") }
            return
        }
        let parent = CtlFiles.folder(of: folder)
        if parent != folder { try makeFolder(parent) }
        guard mkdir(folder, 0o700) == 0 || errno == EEXIST else {
            throw CtlError("cannot create \(folder): \(AtomicFileWriter.errnoText())")
        }
        _ = chmod(folder, 0o700)
    }
}
