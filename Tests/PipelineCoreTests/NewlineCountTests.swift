import PipelineCore
import Testing

/// The newline count behind `StagedFile.verify()` and the resumed writer's line count.
@Suite struct NewlineCountTests {
    @Test func countsNewlinesAtEveryOffset() {
        for length in 0..<40 {
            for newline in 0..<length {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                bytes[newline] = 0x0A
                if length > 3 { bytes[length - 1] = 0x0A }
                bytes[0] = 0x8A  // a high byte that is not a newline
                let expected = bytes.count { $0 == 0x0A }
                #expect(bytes.withUnsafeBytes { NewlineCount.count($0) } == expected, "length \(length), newline at \(newline)")
            }
        }
    }
}
