#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A child process with its standard input, output and error on pipes: the three ends this
/// process keeps, non-blocking, and the child's id. Closes the ends and reaps the child (killing
/// it first if it still runs) when it goes. Reached only under ``AgeEncryptor``'s lock, hence
/// `@unchecked Sendable`.
final class AgeProcess: @unchecked Sendable {
    let pid: pid_t
    /// Our end of the child's standard input; -1 once closed.
    private(set) var input: Int32
    let output: Int32
    let errors: Int32
    private var exitStatus: Int32?

    /// Starts `arguments[0]`, looked up on `PATH`, with the caller's environment; signals the
    /// child would inherit as blocked or ignored (SIGPIPE is ignored here) are reset.
    init(arguments: [String]) throws(AgeError) {
        let (child, fds) = try Self.spawning.withLock { _ throws(AgeError) in try Self.spawn(arguments) }
        pid = child
        input = fds[0][1]
        output = fds[1][0]
        errors = fds[2][0]
        for fd in [input, output, errors] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    /// One spawn at a time in this process: between `pipe` and `FD_CLOEXEC` an end is
    /// inheritable (Swift's Glibc has no `pipe2`), and a child spawned by another thread then
    /// would keep it open, so this child's input would never reach end of file.
    private static let spawning = Mutex(())

    /// The child and its three pipes, of which the child's ends are closed here.
    private static func spawn(_ arguments: [String]) throws(AgeError) -> (pid_t, [[Int32]]) {
        var fds: [[Int32]] = []
        func closeAll() { for pair in fds { close(pair[0]); close(pair[1]) } }
        for _ in 0..<3 {
            var pair: [Int32] = [-1, -1]
            guard pipe(&pair) == 0 else {
                let code = errno
                closeAll()
                throw AgeError.system(call: "pipe", errno: code)
            }
            // Close-on-exec: the child gets its ends as 0, 1, 2 only (dup2 clears the flag there).
            for fd in pair { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            fds.append(pair)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0][0], 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1][1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[2][1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let result = posix_spawnp(&child, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else {
            closeAll()
            throw result == ENOENT ? AgeError.toolNotFound(arguments[0]) : AgeError.system(call: "posix_spawnp", errno: result)
        }
        close(fds[0][0])
        close(fds[1][1])
        close(fds[2][1])
        return (child, fds)
    }

    /// Closes the child's standard input: the end of the plaintext.
    func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// Waits for the child to exit; its status as the shell says it ("exited with status 1",
    /// "was killed by signal 9"), nil for 0.
    func wait() throws(AgeError) -> String? {
        if exitStatus == nil {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else { throw AgeError.system(call: "waitpid", errno: errno) }
            }
            exitStatus = status
        }
        let status = exitStatus!
        let signal = status & 0x7f
        if signal != 0 { return "was killed by signal \(signal)" }
        let code = (status >> 8) & 0xff
        return code == 0 ? nil : "exited with status \(code)"
    }

    deinit {
        closeInput()
        close(output)
        close(errors)
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }
}
