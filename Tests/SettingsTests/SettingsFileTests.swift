import APICore
import ExtractorCore
import Foundation
import PipelineCore
import PipelineSFTP
import SaverCore
import Synchronization
import Testing
import TestSupport
import TransformerCore

/// The settings each stage declares are the ones it reads, and `.env.example` is made from them:
/// a setting read in code but missing from the file (or listed there but read by nothing) fails
/// here. `UPDATE_ENV_EXAMPLE=1 swift test --filter SettingsFileTests` rewrites the file.
@Suite struct SettingsFileTests {
    /// The stages in the order `.env.example` lists them, each with its declared settings.
    static let stages: [(name: String, settings: [Setting])] = [
        ("extractor", ExtractorSettings.settings), ("transformer", TransformerSettings.settings),
        ("saver", SaverSettings.settings), ("api", APISettings.settings),
    ]

    /// Read by no stage binary but by the launchers (docker-compose.yml, scripts/run.sh), which
    /// scripts/container-contract.py holds to these lines of `.env.example`.
    static let launcherSections: [(title: String, settings: [Setting])] = [
        ("docker compose", [
            Setting("API_PUBLISH_ADDRESS", .text, default: "127.0.0.1",
                    help: "The host address the API's port is published on. 127.0.0.1 keeps it to this machine; 0.0.0.0 publishes "
                        + "it on every interface (the API has no authentication; add the name clients use to API_ALLOWED_HOSTS)"),
        ]),
        ("the DummyJSON fixture: started by scripts/run.sh and docker compose when DUMMYJSON_URL is empty", [
            Setting("FIXTURE_USERS", .text, default: "208", help: "Users it serves"),
            Setting("FIXTURE_BAD_FRACTION", .number(0...1), default: "0.05",
                    help: "The share of them that are invalid (they end up in the DLQ)"),
        ]),
    ]

    static let header = """
        # Every setting the pipeline reads, with its default. All are optional: unset or empty means
        # the default shown. A value that cannot be used stops the stage at start-up with a message
        # naming the variable and the form it accepts. `cp .env.example .env` and edit to change any of
        # them: scripts/run.sh (the local run) and docker compose both read .env, and both work with no
        # .env at all.
        #
        # One file for both ways of running the pipeline. The values below are the code's defaults,
        # which are those of a local run. Under docker compose, docker-compose.yml sets itself what
        # describes the containers rather than the pipeline, and ignores these lines for them:
        #   REDIS_URL=redis://redis:6379/0   SFTP_HOST=sftp   SFTP_PORT=22   API_HOST=0.0.0.0
        #   DATA_DIR=/app/data (the `staging` volume)   DB_PATH=/app/database/data.db (./database)
        #   SFTP_KEY_PATH, SFTP_KNOWN_HOSTS=/app/ssh_keys/... (./ssh_keys, read-only)
        # /app in the image mirrors the repository, so the relative paths below point at the same
        # places in both. API_PORT is the port on the host in both.
        #
        # Made from the settings' declarations (`Setting`, beside each stage's settings type) by
        # `UPDATE_ENV_EXAMPLE=1 swift test --filter SettingsFileTests`: edit those, not this file.
        # Each section is headed by the stages that read its settings.

        """

    /// `.env.example` as the declarations describe it: one section per set of stages reading
    /// the same settings, then the launchers' own.
    static func envExample() -> String {
        var readers: [String: [Int]] = [:]
        var order: [Setting] = []
        for (index, stage) in stages.enumerated() {
            for setting in stage.settings {
                if readers[setting.name] == nil { order.append(setting) }
                readers[setting.name, default: []].append(index)
            }
        }
        let groups = Dictionary(grouping: order) { readers[$0.name]! }
        // The widest-read first among those of the same first stage: all four, then extractor + ..., then extractor.
        let keys = groups.keys.sorted { a, b in
            a[0] != b[0] ? a[0] < b[0] : a.count != b.count ? a.count > b.count : a.lexicographicallyPrecedes(b)
        }
        var sections = keys.map { key in (title: key.map { stages[$0].name }.joined(separator: ", "), settings: groups[key]!) }
        sections += launcherSections
        var text = header
        for section in sections {
            text += "\n# --- \(section.title) ---\n"
            for setting in section.settings {
                var help = setting.help
                if case .seconds = setting.kind { help += " (seconds: \(setting.kind.form!))" } else if let form = setting.kind.form { help += " (\(form))" }
                if setting.isSecret { help += ". A secret: never logged in full" }
                text += wrap(help, width: 100, prefix: "# ") + "\(setting.name)=\(setting.exampleValue)\n"
            }
        }
        return text
    }

    static func wrap(_ text: String, width: Int, prefix: String) -> String {
        var lines: [String] = []
        var line = prefix
        for word in text.split(separator: " ") {
            if line.count > prefix.count && line.count + 1 + word.count > width {
                lines.append(line)
                line = prefix
            }
            line += (line.count > prefix.count ? " " : "") + word
        }
        lines.append(line)
        return lines.map { $0 + "\n" }.joined()
    }

    /// `NAME` of every `NAME=value` line.
    static func names(inEnvFile text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard let equals = line.firstIndex(of: "="), line.first?.isUppercase == true else { return nil }
            return String(line[..<equals])
        }
    }

    @Test func envExampleIsMadeFromTheDeclarations() throws {
        let path = repositoryRoot + "/.env.example"
        let file = try String(contentsOfFile: path, encoding: .utf8)
        let expected = Self.envExample()
        if file != expected, ProcessInfo.processInfo.environment["UPDATE_ENV_EXAMPLE"] == "1" {
            try expected.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let declared = Set(Self.names(inEnvFile: expected)), listed = Set(Self.names(inEnvFile: file))
        #expect(declared.subtracting(listed).sorted() == [], "read by a stage (declared) but missing from .env.example")
        #expect(listed.subtracting(declared).sorted() == [], "in .env.example but declared by no stage nor launcher")
        let firstDifference = zip(file.split(separator: "\n", omittingEmptySubsequences: false),
                                  expected.split(separator: "\n", omittingEmptySubsequences: false)).enumerated()
            .first { $0.element.0 != $0.element.1 }
        let same = file == expected
        #expect(same, """
            .env.example is not what the declarations make (first difference at line \((firstDifference?.offset ?? 0) + 1): \
            \(String(describing: firstDifference?.element.0)) instead of \(String(describing: firstDifference?.element.1))); \
            UPDATE_ENV_EXAMPLE=1 swift test --filter SettingsFileTests rewrites it
            """)
    }

    /// What each stage reads, observed, is what it declares: a setting read without being
    /// listed in its stage's `settings` would be missing from `.env.example` and from compose.
    @Test func eachStageReadsExactlyWhatItDeclares() throws {
        func reads(_ environment: [String: String] = [:], _ build: (SettingsReader) throws -> Void) rethrows -> [String] {
            let seen = Mutex<Set<String>>([])
            try build(SettingsReader(environment) { setting in _ = seen.withLock { $0.insert(setting.name) } })
            return seen.withLock { $0.sorted() }
        }
        // The saver checks that its key and known_hosts can be read: any readable file does.
        let files = ["SFTP_KEY_PATH": #filePath, "SFTP_KNOWN_HOSTS": #filePath]
        let observed: [String: [String]] = [
            "extractor": try reads { _ = try ExtractorSettings(from: $0) },
            "transformer": try reads { _ = try TransformerSettings(from: $0) },
            "saver": try reads(files) { _ = try SaverSettings(from: $0) },
            "api": try reads { _ = try APISettings(from: $0) },
        ]
        for (name, settings) in Self.stages {
            let declared = settings.map(\.name)
            #expect(Set(declared).count == declared.count, "\(name) declares a setting twice")
            #expect(observed[name] == declared.sorted(), "\(name): read \(observed[name] ?? []), declared \(declared.sorted())")
        }
    }

    /// One declaration per name: two settings of one name would read one variable two ways.
    @Test func everyNameIsDeclaredOnce() {
        var byName: [String: Setting] = [:]
        for setting in Self.stages.flatMap(\.settings) + Self.launcherSections.flatMap(\.settings) {
            #expect(byName[setting.name].map { $0 == setting } ?? true, "\(setting.name) is declared twice, differently")
            byName[setting.name] = setting
            #expect(setting.name.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }, "\(setting.name)")
            #expect(!setting.help.isEmpty && !setting.help.contains("\n"), "\(setting.name): one line of help")
        }
    }

    /// A settings table in the docs (a row per `NAME`), where there is one, lists exactly the
    /// settings of `.env.example`.
    @Test func theDocsSettingsTableListsTheSameSettings() throws {
        let listed = Set(Self.names(inEnvFile: Self.envExample()))
        for document in ["README.md", "docs/SETTINGS.md"] {
            let path = repositoryRoot + "/" + document
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let rows = text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
                let name = String(line[line.index(line.startIndex, offsetBy: 3)..<end])
                return name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) && !name.isEmpty ? name : nil
            }
            guard !rows.isEmpty else { continue }
            #expect(listed.subtracting(rows).sorted() == [], "\(document): settings missing from its table")
            #expect(Set(rows).subtracting(listed).sorted() == [], "\(document): its table lists settings nothing reads")
        }
    }
}
