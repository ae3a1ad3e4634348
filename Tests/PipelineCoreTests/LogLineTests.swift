import Foundation
import Logging
import PipelineCore
import Testing

/// A log line is one line, whatever the values in it hold (docs/RELIABILITY.md, "Files, URLs and logs").
@Suite struct LogLineTests {
    static let hostile = [
        "Engineering\n2026-12-04T00:00:00.000Z INFO  [saver] run saved",
        "carriage\rreturn", "tab\there", "nul\u{0}bell\u{7}esc\u{1B}[31mdel\u{7F}", "c1\u{85}next\u{9B}",
        "line\u{2028}separator\u{2029}", "quote\" back\\slash", "=", "", "emoji 🧪 and accents é",
        String(decoding: [0x61, 0xFF, 0xFE, 0x62, 0xC3], as: UTF8.self),  // invalid UTF-8 as received
    ]

    @Test func textLinesEscapeControlCharactersInMessagesKeysAndValues() {
        let all = logged("transformer", level: .trace, format: .text) { logger in
            for value in Self.hostile {
                logger.warning("unknown department \(value)", metadata: ["department": "\(value)", "key\nforged": "v", "run_id": "\(value)"])
            }
        }
        #expect(all.count == Self.hostile.count)
        for line in all {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x2028 || $0.value == 0x2029 },
                    "no control character left: \(line.debugDescription)")
        }
        #expect(all[0].contains(#"unknown department Engineering\n2026-12-04T00:00:00.000Z INFO  [saver] run saved"#), "\(all[0])")
        #expect(all[0].contains(#"department="Engineering\n2026-12-04T00:00:00.000Z INFO  [saver] run saved""#), "\(all[0])")
        #expect(all[0].contains(#"key\nforged=v"#), "\(all[0])")
        #expect(all[1].contains(#"department="carriage\rreturn""#), "\(all[1])")
        #expect(all[2].contains(#"department="tab\there""#), "\(all[2])")
        #expect(all[3].contains(#"nul\u{0}bell\u{7}esc\u{1B}[31mdel\u{7F}"#), "\(all[3])")
        #expect(all[6].contains(#"department="quote\" back\\slash""#), "\(all[6])")
        #expect(all[7].contains(#"department="=""#), "\(all[7])")
        #expect(all[8].contains(#"department="""#), "\(all[8])")
        #expect(all[9].contains("department=\"emoji 🧪 and accents é\""), "printable text is kept: \(all[9])")
    }

    @Test func jsonLinesAreOneValidObjectForAnyValue() throws {
        let all = logged("transformer", level: .trace, format: .json) { logger in
            for value in Self.hostile {
                logger.error("bad \(value)", metadata: [
                    "department": "\(value)", "\(value)": "as a key", "nested": ["list": ["\(value)", .stringConvertible(1.5)]],
                    "rows": .stringConvertible(3), "ratio": .stringConvertible(Double.nan), "ok": .stringConvertible(true),
                    "msg": "a metadata key named like a fixed one",
                ])
            }
        }
        #expect(all.count == Self.hostile.count)
        for (line, value) in zip(all, Self.hostile) {
            #expect(!line.contains("\n") && !line.contains("\r"), "one line: \(line.debugDescription)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["msg"] as? String == "bad \(value)")
            #expect(object["department"] as? String == value)
            #expect(object[value] as? String == "as a key")
            #expect(object["rows"] as? Int == 3)
            #expect(object["ok"] as? Bool == true)
            #expect(object["ratio"] as? String == "nan", "a number JSON cannot hold is kept as text")
            #expect(object["meta.msg"] as? String == "a metadata key named like a fixed one")
            #expect(((object["nested"] as? [String: Any])?["list"] as? [Any])?.first as? String == value)
        }
    }
}
