#if canImport(Glibc)
    import Glibc
#endif

/// File I/O for PKI material: whole-file reads and atomic, durable writes with an
/// explicit mode. Stateless; safe from any thread.
public enum PKIFile {
    /// Largest PEM file read (a certificate bundle of a few hundred certificates).
    public static let readBytesMax = 1 << 20

    /// Reads a whole text file. Throws `PKIError(.file)`.
    public static func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw posixError("open \(path)") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            // Safe: read writes at most chunk.count bytes into chunk's storage.
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("read \(path)")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= readBytesMax else {
                throw PKIError(.file, "read \(path)", detail: "larger than \(readBytesMax) bytes")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Replaces `path` with `bytes` atomically: a temp file in the same directory created
    /// with `mode` (no window where a key is world-readable), fsync, rename, fsync of the
    /// directory. A crash leaves either the old file or the new one, never a mix.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: UInt32) throws {
        // A unique temp name (O_EXCL): two writers of the same path never share a temp file.
        let temp = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        guard fd >= 0 else { throw posixError("create \(temp)") }
        do {
            // fchmod: the umask must not widen or narrow the mode we were asked for.
            guard fchmod(fd, mode_t(mode)) == 0 else { throw posixError("chmod \(temp)") }
            try writeAll(fd, bytes, temp)
            guard fsync(fd) == 0 else { throw posixError("fsync \(temp)") }
            guard close(fd) == 0 else {
                unlink(temp)
                throw posixError("close \(temp)")
            }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let error = posixError("rename \(temp) to \(path)")
            unlink(temp)
            throw error
        }
        try syncDirectory(of: path)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        var offset = 0
        while offset < bytes.count {
            // Safe: the pointer covers bytes[offset...], within the array's storage.
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("write \(path)")
            }
            offset += n
        }
    }

    private static func syncDirectory(of path: String) throws {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw posixError("open directory \(dir)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw posixError("fsync directory \(dir)") }
    }

    private static func posixError(_ operation: String) -> PKIError {
        PKIError(.file, operation, detail: String(cString: strerror(errno)))
    }
}
