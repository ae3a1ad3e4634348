import Foundation
import PipelineAge
import TestSupport
import Testing

/// Files encrypted here a piece at a time, decrypted by the reference `age` tool.
@Suite("age encryption, read back by the age tool")
struct AgeInteropTests {
    let directory = TemporaryDirectory("age-interop")

    /// Encrypts `pieces` (one file each) as one stream; the ciphertext file's path.
    func encrypt(_ pieces: [[UInt8]], to recipients: [AgeRecipient], name: String = "out.age") throws -> String {
        let encryptor = try AgeEncryptor(recipients: recipients)
        var ciphertext: [UInt8] = []
        for (index, piece) in pieces.enumerated() {
            let path = directory.file("\(name).piece\(index)")
            try Data(piece).write(to: URL(fileURLWithPath: path))
            try encryptor.encrypt(fileAt: path) { ciphertext += $0 }
        }
        try encryptor.finish { ciphertext += $0 }
        let path = directory.file(name)
        try Data(ciphertext).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test("pieces of any size, around the 64 KiB chunk edge too, decrypt to their concatenation",
          arguments: [[0], [1], [65_536], [65_535, 1], [65_536, 1], [100, 0, 200_000, 65_536, 7], [300_000]])
    func piecesDecryptToTheirConcatenation(sizes: [Int]) async throws {
        let identity = directory.file("key.txt")
        let recipient = try AgeRecipient(try await AgeTool.makeIdentity(at: identity))
        let pieces = sizes.map(Self.randomBytes)
        let encrypted = try encrypt(pieces, to: [recipient])
        #expect(try await AgeTool.plaintext(of: encrypted, identity: identity) == Data(pieces.joined()))
        let header = try String(decoding: Data(contentsOf: URL(fileURLWithPath: encrypted)).prefix(22), as: UTF8.self)
        #expect(header == "age-encryption.org/v1\n")
    }

    @Test("each piece gives exactly the ciphertext it completes: the header and nonce, then whole 64 KiB chunks; the rest at the end")
    func piecesFollowTheChunkArithmetic() async throws {
        let recipient = try AgeRecipient(try await AgeTool.makeIdentity(at: directory.file("key.txt")))
        let encryptor = try AgeEncryptor(recipients: [recipient])
        var outputs: [[UInt8]] = []
        var fed = 0
        var expectedTotals: [Int] = []
        var headerEnd = 0
        for (index, size) in [100, 65_436, 1, 200_000, 0, 65_536].enumerated() {
            let path = directory.file("piece\(index)")
            try Data(Self.randomBytes(size)).write(to: URL(fileURLWithPath: path))
            var out: [UInt8] = []
            try encryptor.encrypt(fileAt: path) { out += $0 }
            if index == 0 {
                let text = Array(out)
                let mac = try #require((0..<text.count - 4).first { text[$0] == 0x0A && Array(text[$0 + 1..<$0 + 5]) == Array("--- ".utf8) })
                headerEnd = try #require(text[(mac + 1)...].firstIndex(of: 0x0A)) + 1
            }
            outputs.append(out)
            fed += size
            expectedTotals.append(headerEnd + 16 + (fed - 1) / 65_536 * (65_536 + 16))
        }
        var end: [UInt8] = []
        try encryptor.finish { end += $0 }
        var total = 0
        for (output, expected) in zip(outputs, expectedTotals) {
            total += output.count
            #expect(total == expected)
        }
        let lastChunk = fed - (fed - 1) / 65_536 * 65_536
        #expect(end.count == lastChunk + 16, "the last chunk and its tag")
    }

    @Test("a file to two recipients decrypts with either identity; a third identity is refused")
    func twoRecipientsEachDecryptAndAThirdIsRefused() async throws {
        let first = directory.file("first.txt"), second = directory.file("second.txt"), third = directory.file("third.txt")
        let recipients = [
            try AgeRecipient(try await AgeTool.makeIdentity(at: first)),
            try AgeRecipient(try await AgeTool.makeIdentity(at: second)),
        ]
        try await AgeTool.makeIdentity(at: third)
        let plaintext = Self.randomBytes(150_000)
        let encrypted = try encrypt([Array(plaintext[..<70_000]), Array(plaintext[70_000...])], to: recipients)
        #expect(try await AgeTool.plaintext(of: encrypted, identity: first) == Data(plaintext))
        #expect(try await AgeTool.plaintext(of: encrypted, identity: second) == Data(plaintext))

        let refused = try await AgeTool.decrypt(encrypted, identity: third, to: directory.file("third.out"))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("no identity matched any of the recipients"))
        let leftover = FileManager.default.contents(atPath: directory.file("third.out")) ?? Data()
        #expect(leftover.isEmpty)
    }

    @Test("every file is a fresh stream: the same plaintext to the same recipient never gives the same bytes")
    func everyStreamHasAFreshFileKey() async throws {
        let identity = directory.file("key.txt")
        let recipient = try AgeRecipient(try await AgeTool.makeIdentity(at: identity))
        let plaintext = Self.randomBytes(1_000)
        let one = try Data(contentsOf: URL(fileURLWithPath: try encrypt([plaintext], to: [recipient], name: "one.age")))
        let two = try Data(contentsOf: URL(fileURLWithPath: try encrypt([plaintext], to: [recipient], name: "two.age")))
        #expect(one.count == two.count)
        #expect(one != two)
    }

    /// Every byte of a small file (the header, its MAC, the nonce, the payload and its tag), and
    /// the bytes around the chunk edge and at the end of a two-chunk file.
    @Test("flipping any byte of an encrypted file makes the tool refuse it")
    func flippingAnyByteFailsDecryption() async throws {
        let identity = directory.file("key.txt")
        let recipient = try AgeRecipient(try await AgeTool.makeIdentity(at: identity))
        let small = try Data(contentsOf: URL(fileURLWithPath: try encrypt([Self.randomBytes(120)], to: [recipient], name: "small.age")))
        let large = try Data(contentsOf: URL(fileURLWithPath: try encrypt([Self.randomBytes(100_000)], to: [recipient], name: "large.age")))
        let payloadStart = large.count - (100_000 + 2 * 16)
        let edge = payloadStart + 65_536 + 16
        var cases = small.indices.map { ("small", small, $0) }
        let largePositions = Set([payloadStart, payloadStart + 1, edge - 17, edge - 1, edge, edge + 1] + Array(large.count - 20..<large.count))
        cases += largePositions.sorted().map { ("large", large, $0) }

        let failures = try await withThrowingTaskGroup(of: String?.self) { group in
            var results: [String] = []
            var next = 0
            func add() {
                let (name, bytes, position) = cases[next]
                next += 1
                let path = directory.file("\(name)-flipped-\(position).age")
                group.addTask {
                    var flipped = bytes
                    flipped[position] ^= 0xFF
                    try flipped.write(to: URL(fileURLWithPath: path))
                    let result = try await AgeTool.decrypt(path, identity: identity, to: path + ".out")
                    try? FileManager.default.removeItem(atPath: path)
                    try? FileManager.default.removeItem(atPath: path + ".out")
                    return result.status == 0 ? "\(name) byte \(position)" : nil
                }
            }
            for _ in 0..<min(8, cases.count) { add() }
            while let result = try await group.next() {
                if let result { results.append(result) }
                if next < cases.count { add() }
            }
            return results
        }
        #expect(cases.count > 300)
        #expect(failures.isEmpty, "decrypted after a flip: \(failures)")
        #expect(try await AgeTool.plaintext(of: directory.file("small.age"), identity: identity).count == 120)
    }

    @Test("a missing tool is reported by name")
    func aMissingToolIsNamed() throws {
        let recipient = try AgeRecipient("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
        #expect(throws: AgeError.toolNotFound("age-not-installed-here")) {
            _ = try AgeEncryptor(recipients: [recipient], tool: "age-not-installed-here")
        }
    }

    @Test("the tool exiting midway fails the stream with its message, and the stream stays failed")
    func aToolThatFailsIsReported() async throws {
        // `false` takes no input and exits 1: the stream sees its output close early.
        let recipient = try AgeRecipient("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
        let encryptor = try AgeEncryptor(recipients: [recipient], tool: "false")
        let path = directory.file("plain")
        try Data(Self.randomBytes(1_000_000)).write(to: URL(fileURLWithPath: path))
        #expect {
            try encryptor.encrypt(fileAt: path) { _ in }
        } throws: { error in
            guard case let .toolFailed(status, _) = error as? AgeError else { return false }
            return status == "exited with status 1"
        }
        #expect(throws: AgeError.closed) { try encryptor.finish { _ in } }
    }
}
