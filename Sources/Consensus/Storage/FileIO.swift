import Glibc

/// Thin wrappers over the Glibc calls the storage needs, turning `-1`/`errno` into
/// `StorageError.io` with the path. Glibc directly (not Foundation) so that every
/// `fsync`/`fdatasync` is explicit and none is hidden or skipped.
///
/// Threading: stateless; each call is as thread-safe as the system call it wraps.
enum FileIO {
    static func fail(_ what: String, _ path: String, remedy: String = "") -> StorageError {
        let e = errno
        let text = String(cString: strerror(e))
        return StorageError(.io, path: path, errno: e, reason: "\(what) failed: \(text)", remedy: remedy)
    }

    /// Opens `path`, retrying on EINTR. Always adds O_CLOEXEC.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw fail("open", path) }
        }
    }

    /// Creates `path` as a directory if it does not exist yet.
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw fail("mkdir", path) }
    }

    /// Writes all of `bytes` at `offset`, looping over short writes and EINTR.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            // Safe: done < bytes.count, so the pointer and length stay inside `bytes`.
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("pwrite", path, remedy: "Check free disk space and the disk's health")
            }
            done += n
        }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { try pwriteAll(fd, $0, at: offset, path: path) }
    }

    /// Reads the whole file at `path`, refusing files larger than `bytesMax`.
    static func readFile(_ path: String, bytesMax: Int) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { _ = Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("fstat", path) }
        let size = Int(st.st_size)
        guard size <= bytesMax else {
            throw StorageError(
                .io, path: path,
                reason: "file is \(size) bytes, more than the \(bytesMax)-byte limit for this kind of file",
                remedy: "Raise the limit in FileLogStore.Options if the file is legitimate")
        }
        var out = [UInt8](repeating: 0, count: size)
        var done = 0
        try out.withUnsafeMutableBytes { raw in
            while done < size {
                // Safe: done < size == raw.count.
                let n = pread(fd, raw.baseAddress! + done, size - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("pread", path)
                }
                if n == 0 { break }  // shrank underneath us
                done += n
            }
        }
        if done < size { out.removeLast(size - done) }
        return out
    }

    /// Flushes file data (and the size, if it changed) to stable storage.
    static func fdatasync(_ fd: Int32, path: String) throws {
        while Glibc.fdatasync(fd) != 0 {
            if errno != EINTR {
                // After a failed fsync the page cache state is unknown (the "fsyncgate"
                // lesson): the caller must not retry and carry on; it must stop.
                throw fail("fdatasync", path, remedy: "Stop the node: written data may not be durable")
            }
        }
    }

    /// Makes creations, renames and removals of entries in directory `path` durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { _ = Glibc.close(fd) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw fail("fsync (directory)", path) }
        }
    }

    static func truncate(_ fd: Int32, to size: Int, path: String) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw fail("ftruncate", path) }
    }

    /// Reserves (zero-filled) space for `bytes` bytes from `offset`, growing the file.
    static func allocate(_ fd: Int32, from offset: Int, bytes: Int, path: String) throws {
        let rc = posix_fallocate(fd, off_t(offset), off_t(bytes))  // returns the error, not -1
        guard rc == 0 else {
            throw StorageError(
                .io, path: path, errno: rc,
                reason: "posix_fallocate of \(bytes) bytes failed: \(String(cString: strerror(rc)))",
                remedy: "Check free disk space, or turn off FileLogStore.Options.preallocate")
        }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw fail("rename to \(to)", from) }
    }

    static func unlink(_ path: String) throws {
        guard Glibc.unlink(path) == 0 || errno == ENOENT else { throw fail("unlink", path) }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // Linux: never retry close, the fd is released either way.
    }

    /// Names of the entries of directory `path` (without "." and ".."), unsorted.
    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw fail("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                // Safe: d_name is a NUL-terminated char array inside the dirent.
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Takes an exclusive advisory lock on `path` (created if missing) so two
    /// processes never write one log. Returns the descriptor that holds the lock.
    ///
    /// A lock found held is asked for again for up to `lockWaitMillis`: an `flock` lives
    /// as long as any descriptor of its open file, and a child forked by this process
    /// (any `posix_spawn`) holds a copy of every descriptor until its `exec` closes the
    /// `O_CLOEXEC` ones — so a store closed and reopened while another thread spawns a
    /// process can find its own old lock still held for a moment, as can a node
    /// restarted while its previous process is still exiting. A live owner still holds
    /// it after the wait, and the error names it.
    static func lock(_ path: String) throws -> Int32 {
        let fd = try open(path, O_RDWR | O_CREAT)
        var waited = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if (e == EWOULDBLOCK || e == EINTR) && waited < Self.lockWaitMillis {
                var pause = timespec(tv_sec: 0, tv_nsec: 5_000_000)
                nanosleep(&pause, nil)
                waited += 5
                continue
            }
            Glibc.close(fd)
            throw StorageError(
                .directoryLocked, path: path, errno: e,
                reason: "another process (or another store in this process) holds the storage lock",
                remedy: "Stop the other warren node using this data directory")
        }
        return fd
    }

    /// How long `lock` waits for a lock held elsewhere before it reports it.
    static let lockWaitMillis = 2_000
}
