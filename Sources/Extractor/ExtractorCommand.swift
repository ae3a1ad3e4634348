import ArgumentParser
import ExtractorCore
import Logging
import PipelineCore
import PipelineHTTP
import PipelineRedis
import ServiceLifecycle

/// The extractor stage: pulls users from the DummyJSON API into staging and signals the transformer.
@main
struct ExtractorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Extractor",
        abstract: "Pull users from the DummyJSON API into staging, then signal the transformer.",
        discussion: "Settings come from environment variables; see .env.example."
    )

    @Flag(help: "Run one extraction cycle and exit: 0 when the run was extracted, 1 when it failed.")
    var once = false

    func run() async throws {
        let settings: ExtractorSettings
        do {
            settings = try ExtractorSettings(from: SettingsReader())
        } catch {
            throw StartupError("extractor: \(error)")
        }
        PipelineLogging.bootstrap(stage: "extractor", settings: settings.log)
        let logger = Logger(label: "extractor")
        let redis = RedisClient(url: settings.redisURL)
        defer { redis.close() }
        let http = CurlHTTPClient(configuration: settings.httpConfiguration)
        let extraction = Extraction(settings: settings, http: http, redis: redis, logger: logger)
        logger.info("starting", metadata: [
            "upstream": "\(RedactedURL(settings.usersURL.absoluteString))", "page_size": "\(settings.pageSize)",
            "redis": "\(settings.redisURL)", "data_dir": "\(settings.staging.dataDirectory)", "once": "\(once)",
        ])
        if once {
            do {
                let outcome = try await extraction.runCycle(takingOver: true)
                if case .busy(let id) = outcome { throw StartupError("extractor: run \(id) is being extracted by another replica") }
            } catch let failure as ExtractionFailed {
                throw StartupError("extractor: \(failure)")
            }
            return
        }
        let service = ExtractorService(extraction: extraction, interval: settings.interval, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
