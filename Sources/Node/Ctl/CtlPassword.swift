#if canImport(Glibc)
    import Glibc
#endif

/// Reads a password for `login` and `user add`: one line from stdin with
/// `--password-stdin`, else a prompt on the terminal with echo turned off (termios).
/// The password is never echoed, printed, or kept beyond the request that sends it.
enum CtlPassword {
    /// The longest password line accepted.
    static let lineBytesMax = 4096

    /// The password for `args` (`--password-stdin` or a terminal prompt). `confirm` asks twice.
    static func read(_ args: ParsedArguments, prompt: String, confirm: Bool = false) throws -> String {
        if args.bool("password-stdin") {
            guard let line = try readLine(fd: STDIN_FILENO) else { throw CtlError("no password on stdin") }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw ArgumentError.missingFlag("--password-stdin (stdin is not a terminal)", command: args.displayName)
        }
        let first = try promptWithoutEcho(prompt)
        if confirm {
            guard try promptWithoutEcho("Repeat: ") == first else { throw CtlError("the passwords differ") }
        }
        return first
    }

    /// One line from `fd` without its line ending, read byte by byte so nothing after it is
    /// consumed; nil at end of input with nothing read.
    static func readLine(fd: Int32) throws(CtlError) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(fd, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CtlError("cannot read the password: \(AtomicFileWriter.errnoText())") }
            if count == 0 {
                if bytes.isEmpty { return nil }
                break
            }
            if byte == 0x0A { break }
            bytes.append(byte)
            guard bytes.count <= lineBytesMax else { throw CtlError("the password line is over \(lineBytesMax) bytes") }
        }
        if bytes.last == 0x0D { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func writeStderr(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Prints `prompt` on stderr and reads a line from the terminal with echo off,
    /// restoring the terminal's settings afterwards.
    private static func promptWithoutEcho(_ prompt: String) throws -> String {
        writeStderr(prompt)
        var saved = termios()
        let hasTerminal = tcgetattr(STDIN_FILENO, &saved) == 0
        if hasTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if hasTerminal { _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
            writeStderr("\n")
        }
        guard let line = try readLine(fd: STDIN_FILENO) else { throw CtlError("no password entered") }
        return line
    }
}
