#if canImport(Glibc)
import Glibc
#endif
internal import Synchronization

/// Watches files for replacement or rewrite with inotify, on its own thread, and reports
/// each batch of changes after the writes settle — the trigger of certificate hot reload.
///
/// Watches the files' directories, not the files: an atomic rename-replace (what cert
/// tooling and `warren pki issue` do) shows as `IN_MOVED_TO` in the directory, an
/// in-place write as `IN_CLOSE_WRITE`; a watch on the file itself would follow the old
/// inode. Changes within `settleMillis` of each other are reported together, once.
public final class FileWatcher: Sendable {
    private let fd: Int32
    private let stopFlag = Atomic<Bool>(false)
    private let done = Atomic<Bool>(false)

    /// Starts watching `paths`; `onChange` gets the watched paths that changed.
    public init(paths: [String], settleMillis: Int32 = 200, onChange: @escaping @Sendable ([String]) -> Void) throws(SocketError) {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw SocketError.posix(.socket, "inotify_init1", errno: errno) }
        var watched: [Int32: (directory: String, names: Set<String>)] = [:]
        for path in paths {
            let slash = path.lastIndex(of: "/")
            let directory = slash.map { String(path[..<$0]) } ?? "."
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE)
            let wd = inotify_add_watch(fd, directory.isEmpty ? "/" : directory, mask)
            guard wd >= 0 else {
                let e = errno
                Glibc.close(fd)
                throw SocketError.posix(.socket, "inotify_add_watch(\(directory))", errno: e)
            }
            watched[wd, default: (directory, [])].names.insert(name)
        }
        let fd = self.fd
        let box = WatcherThreadBox(
            fd: fd, watched: watched, settleMillis: settleMillis, onChange: onChange, watcher: self)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(box).toOpaque()
        pthread_create(&thread, nil, { raw in
            let box = Unmanaged<WatcherThreadBox>.fromOpaque(raw!).takeRetainedValue()
            box.run()
            return nil
        }, context)
        pthread_detach(thread)
    }

    /// Stops the thread (within one poll interval) and closes the inotify descriptor.
    public func stop() {
        stopFlag.store(true, ordering: .releasing)
    }

    var isStopped: Bool { stopFlag.load(ordering: .acquiring) }

    fileprivate func finished() {
        if !done.exchange(true, ordering: .acquiringAndReleasing) { Glibc.close(fd) }
    }
}

private final class WatcherThreadBox: @unchecked Sendable {
    let fd: Int32
    let watched: [Int32: (directory: String, names: Set<String>)]
    let settleMillis: Int32
    let onChange: @Sendable ([String]) -> Void
    let watcher: FileWatcher

    init(
        fd: Int32, watched: [Int32: (directory: String, names: Set<String>)], settleMillis: Int32,
        onChange: @escaping @Sendable ([String]) -> Void, watcher: FileWatcher
    ) {
        self.fd = fd
        self.watched = watched
        self.settleMillis = settleMillis
        self.onChange = onChange
        self.watcher = watcher
    }

    func run() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var changed = Set<String>()
        while !watcher.isStopped {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            // Waiting for more events while some are pending is the settle delay.
            let ready = poll(&pfd, 1, changed.isEmpty ? 200 : settleMillis)
            if ready == 0 {
                if !changed.isEmpty {
                    onChange(changed.sorted())
                    changed.removeAll()
                }
                continue
            }
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { continue }
            buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset + MemoryLayout<inotify_event>.size <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameStart = offset + MemoryLayout<inotify_event>.size
                    let nameBytes = raw[nameStart..<min(nameStart + length, n)].prefix { $0 != 0 }
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    if let entry = watched[wd], entry.names.contains(name) {
                        changed.insert(entry.directory + "/" + name)
                    }
                    offset = nameStart + length
                }
            }
        }
        watcher.finished()
    }
}
