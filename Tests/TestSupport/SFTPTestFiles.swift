import Foundation

/// Files for SFTP tests: random content, checksums, throwaway keys.
public enum SFTPTestFiles {
    /// A new empty directory under the system temporary directory.
    public static func makeTemporaryDirectory(_ prefix: String = "sftp-test") throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Writes `size` random bytes (from /dev/urandom, 1 MiB at a time) to `path`, on a thread of
    /// its own: 100 MB take seconds on a loaded machine, too long to hold a thread of the pool.
    public static func writeRandomFile(_ path: String, size: Int) async throws {
        try await offThePool { try writeRandomFileBlocking(path, size: size) }
    }

    private static func writeRandomFileBlocking(_ path: String, size: Int) throws {
        guard let source = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw SFTPTestServerError("cannot open /dev/urandom")
        }
        defer { try? source.close() }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let destination = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? destination.close() }
        var remaining = size
        while remaining > 0 {
            let data = try source.read(upToCount: min(remaining, 1 << 20)) ?? Data()
            guard !data.isEmpty else { throw SFTPTestServerError("/dev/urandom ran dry") }
            try destination.write(contentsOf: data)
            remaining -= data.count
        }
    }

    /// A fresh ed25519 key pair at `path` and `path.pub` (ssh-keygen), with an optional passphrase.
    /// Returns the public key line.
    @discardableResult
    public static func generateKey(_ path: String, passphrase: String = "", comment: String = "sftp-test") async throws -> String {
        try await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", path])
        return try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
