import Foundation

/// Debian's `age` and `age-keygen`, the reference implementation, as the other side of every
/// encryption test: identities made and files decrypted by the tool, never by our code.
public enum AgeTool {
    /// A new identity file at `path`; returns its public key (the recipient, `age1…`).
    @discardableResult
    public static func makeIdentity(at path: String) async throws -> String {
        try await runCommand("age-keygen", ["-o", path])
        return try await runCommand("age-keygen", ["-y", path]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `age --decrypt -i identity -o output input`; the tool's exit status and messages.
    public static func decrypt(_ input: String, identity: String, to output: String) async throws -> ChildProcess.Output {
        try await ChildProcess.run("age", ["--decrypt", "-i", identity, "-o", output, input])
    }

    /// The plaintext of `input`, or throws with the tool's message.
    public static func plaintext(of input: String, identity: String) async throws -> Data {
        let output = input + ".decrypted-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try await decrypt(input, identity: identity, to: output)
        guard result.status == 0 else {
            throw CommandFailed(command: "age --decrypt \(input)", status: result.status, stderr: result.stderr)
        }
        // The tool creates its output at the first byte: an empty plaintext leaves none.
        return FileManager.default.contents(atPath: output) ?? Data()
    }
}
