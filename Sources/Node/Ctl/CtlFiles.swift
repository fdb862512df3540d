#if canImport(Glibc)
    import Glibc
#endif

/// Writes a file atomically: a temporary file beside it (created 0600 with O_EXCL), the
/// bytes, fsync, rename over the target, fsync of the folder. Until `commit()` the target
/// is untouched; `abort()` (or a failed `commit()`) removes the temporary file.
///
/// Threading: one thread. Used for the session file, `snapshot save` and `audit export --out`.
final class AtomicFileWriter {
    let path: String
    let temporaryPath: String
    private var fd: Int32
    private var finished = false

    /// Creates the temporary file with permissions `mode` (applied whatever the umask).
    init(path: String, mode: mode_t = 0o600) throws(CtlError) {
        self.path = path
        temporaryPath = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporaryPath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CtlError("cannot create \(temporaryPath): \(Self.errnoText())") }
        guard fchmod(fd, mode) == 0 else {
            let error = CtlError("cannot set the mode of \(temporaryPath): \(Self.errnoText())")
            abort()
            throw error
        }
    }

    deinit { abort() }

    /// Appends `bytes` (all of them, retrying short writes).
    func write(_ bytes: [UInt8]) throws(CtlError) {
        precondition(!finished, "write after commit or abort")
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw CtlError("cannot write \(temporaryPath): \(Self.errnoText())") }
            offset += written
        }
    }

    /// fsync, rename over `path`, fsync the folder: after this the new content is durable.
    func commit() throws(CtlError) {
        precondition(!finished, "commit after commit or abort")
        guard fsync(fd) == 0 else {
            let error = CtlError("cannot sync \(temporaryPath): \(Self.errnoText())")
            abort()
            throw error
        }
        close(fd)
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let error = CtlError("cannot rename \(temporaryPath) to \(path): \(Self.errnoText())")
            abort()
            throw error
        }
        finished = true
        let folder = CtlFiles.folder(of: path)
        let dirFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }

    /// Drops the temporary file; the target is left as it was.
    func abort() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(temporaryPath)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Small file helpers for `warren ctl`.
enum CtlFiles {
    /// The folder part of `path` ("." for a bare name).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `path` made absolute against the working directory (so a saved session still finds
    /// its CA file from elsewhere).
    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// The whole of a small file, at most `bytesMax` bytes; nil when it does not exist.
    static func readSmall(_ path: String, bytesMax: Int = 1 << 20) throws(CtlError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { return nil }
        guard fd >= 0 else { throw CtlError("cannot open \(path): \(AtomicFileWriter.errnoText())") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CtlError("cannot read \(path): \(AtomicFileWriter.errnoText())") }
            if count == 0 { return out }
            out += chunk[0..<count]
            guard out.count <= bytesMax else { throw CtlError("\(path) is larger than \(bytesMax) bytes") }
        }
    }
}
