// swift-tools-version: 6.1
// Tools 6.1 is the lowest our dependencies accept (GRDB 7.10); every target builds in the
// Swift 6 language mode with strict concurrency.

import PackageDescription

/// TEST-ONLY: the saver's `SAVER_TEST_PAUSE_AFTER` hook, with which the chaos suite kills the
/// saver in a known window, exists only in debug builds. Release builds, which the image ships
/// and the benchmarks measure, do not read it or pause (scripts/compose-check.sh checks the
/// image's Saver does not contain its name).
let saverTestHooks = SwiftSetting.define("SAVER_TEST_HOOKS", .when(configuration: .debug))

let package = Package(
    name: "etl-pipeline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "Extractor", targets: ["Extractor"]),
        .executable(name: "Transformer", targets: ["Transformer"]),
        .executable(name: "Saver", targets: ["Saver"]),
        .executable(name: "API", targets: ["API"]),
        .executable(name: "DummyJSON", targets: ["DummyJSON"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // MARK: C libraries from Debian, each behind its own system-library target so that an
        // executable links only the libraries it uses.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSSH2", providers: [.apt(["libssh2-1-dev"])]),

        // MARK: The one JSON parser and writer (RFC 8259, strict); no dependencies.
        .target(name: "PipelineJSON"),

        // MARK: Shared code every stage needs; no C library.
        .target(
            name: "PipelineCore",
            dependencies: [
                "PipelineJSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: Wrappers over one C library each.
        .target(
            name: "PipelineRedis",
            dependencies: [
                "CHiredis", "PipelineCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: Coordination of the stages over Redis: the run ledger, claims, the phase worker,
        // signals and crash-loop counting. Built on the Redis wrapper, not part of it.
        .target(
            name: "PipelineRuntime",
            dependencies: [
                "PipelineCore", "PipelineRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "PipelineHTTP", dependencies: ["CCurl", "PipelineCore"]),
        .target(name: "PipelineSFTP", dependencies: ["CSSH2", "PipelineCore"]),
        // MARK: age encryption of uploads, by Debian's `age` tool as a child process.
        .target(name: "PipelineAge"),

        // MARK: SQLite through GRDB (the system libsqlite3): the schema the saver writes and the API reads.
        .target(
            name: "PipelineDatabase",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        // MARK: The stages.
        .target(
            name: "ExtractorCore",
            dependencies: [
                "PipelineCore", "PipelineJSON", "PipelineRedis", "PipelineRuntime", "PipelineHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "Extractor",
            dependencies: [
                "ExtractorCore", "PipelineCore", "PipelineRedis", "PipelineHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TransformerCore",
            dependencies: [
                "PipelineCore", "PipelineJSON", "PipelineRedis", "PipelineRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/departments.csv")]
        ),
        .executableTarget(
            name: "Transformer",
            dependencies: [
                "TransformerCore", "PipelineCore", "PipelineRedis", "PipelineRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SaverCore",
            dependencies: [
                "PipelineCore", "PipelineRedis", "PipelineRuntime", "PipelineSFTP", "PipelineDatabase", "PipelineAge",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [saverTestHooks]
        ),
        .executableTarget(
            name: "Saver",
            dependencies: [
                "SaverCore", "PipelineCore", "PipelineRedis", "PipelineSFTP", "PipelineDatabase",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [saverTestHooks]
        ),
        // The read-only HTTP API: routes, queries and the OpenAPI document in a library the tests
        // drive; the executable is a thin `@main` over it. Links SQLite only.
        .target(
            name: "APICore",
            dependencies: [
                "PipelineCore", "PipelineJSON", "PipelineDatabase",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                // The connection guards below the router (Sources/APICore/HTTP): channel handlers.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // GET /metrics: swift-metrics' API over the Prometheus registry and text format.
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The HTML dashboard under /ui/ (Sources/APICore/Dashboard): logic-less templates
                // whose `{{ }}` escapes every value.
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("Dashboard/Resources")]
        ),
        .executableTarget(
            name: "API",
            dependencies: [
                "APICore", "PipelineCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: DummyJSON-compatible fixture server (stands in for https://dummyjson.com/users
        // offline): deterministic user generation, bad rows and fault injection.
        .target(
            name: "DummyJSONFixture",
            dependencies: [
                "PipelineJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "DummyJSON",
            dependencies: [
                "DummyJSONFixture",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),


        // MARK: Tests, against real servers started by scripts/services.sh.
        .target(name: "TestSupport", dependencies: ["PipelineCore", "PipelineJSON", "PipelineRedis"], path: "Tests/TestSupport"),
        // Realistic runs, users, dead letters and events, written into a database by the saver's
        // own transactions (SaverCore), for the API's tests, contract test and benchmark.
        .target(
            name: "APITestData",
            dependencies: [
                "PipelineCore", "PipelineDatabase", "PipelineJSON", "SaverCore", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/APITestData"
        ),
        .testTarget(name: "PipelineJSONTests", dependencies: ["PipelineJSON"]),
        .testTarget(
            name: "PipelineCoreTests",
            dependencies: ["PipelineCore", "PipelineJSON", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PipelineRedisTests",
            dependencies: ["PipelineRedis", "PipelineRuntime", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PipelineRuntimeTests",
            dependencies: ["PipelineRuntime", "PipelineRedis", "PipelineCore", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "PipelineHTTPTests", dependencies: ["PipelineHTTP", "TestSupport"]),
        .testTarget(name: "PipelineSFTPTests", dependencies: ["PipelineSFTP", "TestSupport"]),
        .testTarget(name: "PipelineAgeTests", dependencies: ["PipelineAge", "TestSupport"]),
        .target(name: "TransformerFixtures", dependencies: ["PipelineJSON", "TestSupport"], path: "Tests/TransformerFixtures"),
        .testTarget(
            name: "TransformerTests",
            dependencies: [
                "TransformerCore", "TransformerFixtures", "TestSupport", "PipelineCore", "PipelineJSON", "PipelineRedis", "PipelineRuntime",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ExtractorTests",
            dependencies: [
                "ExtractorCore", "DummyJSONFixture", "PipelineCore", "PipelineRedis", "PipelineRuntime", "PipelineHTTP", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PipelineDatabaseTests",
            dependencies: ["PipelineDatabase", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "DummyJSONFixtureTests",
            dependencies: [
                "DummyJSONFixture", "PipelineJSON", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SaverTests",
            dependencies: [
                "SaverCore", "PipelineCore", "PipelineRedis", "PipelineRuntime", "PipelineSFTP", "PipelineDatabase", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The end-to-end harness: the whole pipeline as separate processes of the built
        // executables, with its own Redis and SFTP servers, and what a run leaves behind; shared
        // (with `package` access) by EndToEndTests and the pipeline benchmark (Benchmarks/PipelineBench).
        .target(
            name: "EndToEndSupport",
            dependencies: [
                "PipelineCore", "PipelineRedis", "PipelineRuntime", "PipelineDatabase", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/EndToEndSupport"
        ),
        // The end-to-end run and the chaos scenarios of docs/RELIABILITY.md (run
        // `swift build --build-tests` first: they start the built executables).
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "EndToEndSupport", "ExtractorCore", "PipelineCore", "PipelineDatabase", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Each stage's settings against their declarations, and `.env.example` made from them.
        .testTarget(
            name: "SettingsTests",
            dependencies: ["APICore", "ExtractorCore", "PipelineCore", "PipelineSFTP", "SaverCore", "TransformerCore", "TestSupport"]
        ),
        .testTarget(
            name: "APITests",
            dependencies: [
                "APICore", "APITestData", "PipelineCore", "PipelineJSON", "PipelineDatabase", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)

// MARK: Fuzz targets (docs/RELIABILITY.md, "Fuzzing"): libFuzzer executables that only link with
// `-sanitize=fuzzer`, so they exist only when ETL_FUZZ is set. scripts/fuzz.sh builds them into
// .build-fuzz and runs them.
if Context.environment["ETL_FUZZ"] != nil {
    package.products += [
        .executable(name: "JSONFuzz", targets: ["JSONFuzz"]),
        .executable(name: "TransformFuzz", targets: ["TransformFuzz"]),
    ]
    package.targets += [
        .target(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"),
        .executableTarget(name: "JSONFuzz", dependencies: ["CFuzzerDriver", "PipelineJSON"], path: "Fuzz/JSONFuzz"),
        .executableTarget(
            name: "TransformFuzz",
            dependencies: [
                "CFuzzerDriver", "TransformerCore", "PipelineCore", "PipelineJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Fuzz/TransformFuzz"
        ),
    ]
}

// MARK: Benchmarks and the seed tool, outside the default build: `swift build` makes what ships
// and what the tests need; with ETL_BENCHMARKS set (`ETL_BENCHMARKS=1 swift build --product NAME`,
// what scripts/bench-*.sh and scripts/contract-test.sh run) these are added, as Hummingbird adds its
// benchmarks with ENABLE_HB_BENCHMARKS.
if Context.environment["ETL_BENCHMARKS"] != nil {
    let benchmarks: [(name: String, dependencies: [Target.Dependency])] = [
        ("TransformBench", ["ExtractorCore", "PipelineCore", "PipelineRedis", "PipelineRuntime", "TransformerFixtures"]),
        ("SFTPBench", ["PipelineCore", "PipelineSFTP"]),
        ("SaverBench", ["SaverCore", "PipelineCore"]),
        // Writes a database of realistic runs for the API's benchmark and contract test.
        ("APISeed", ["APITestData"]),
    ]
    package.products += benchmarks.map { .executable(name: $0.name, targets: [$0.name]) }
    package.targets += benchmarks.map {
        .executableTarget(
            name: $0.name,
            dependencies: $0.dependencies + [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/\($0.name)")
    }
    // The whole-pipeline benchmark (scripts/bench-pipeline.sh): a Swift Testing suite driving the
    // end-to-end harness, so a test target of its own rather than an executable.
    package.targets.append(
        .testTarget(
            name: "PipelineBench",
            dependencies: ["EndToEndSupport", "PipelineCore", "PipelineRedis", "TestSupport"],
            path: "Benchmarks/PipelineBench"
        )
    )
}
