import ArgumentParser
import Logging
import PipelineCore
import PipelineRedis
import PipelineRuntime
import ServiceLifecycle
import TransformerCore

/// The transformer stage: validates, enriches and masks each sealed chunk of a run, then signals the saver.
@main
struct TransformerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Transformer",
        abstract: "Validate, enrich and mask every sealed chunk of a run into users.jsonl, dlq.jsonl and raw.masked.jsonl, then signal the saver.",
        discussion: "Settings come from environment variables; see .env.example."
    )

    func run() async throws {
        let settings: TransformerSettings
        do {
            settings = try TransformerSettings(from: SettingsReader())
        } catch {
            throw StartupError("transformer: \(error)")
        }
        PipelineLogging.bootstrap(stage: "transformer", settings: settings.log)
        let logger = Logger(label: "transformer")
        let redis = RedisClient(url: settings.redisURL)
        defer { redis.close() }
        let transformation = Transformation(rules: settings.rules, layout: settings.staging.layout, redis: redis, maxUserBytes: settings.maxUserBytes)
        logger.info("starting", metadata: [
            "redis": "\(settings.redisURL)", "data_dir": "\(settings.staging.dataDirectory)",
            "age_range": "\(settings.rules.ageRange.lowerBound)...\(settings.rules.ageRange.upperBound)",
            "departments": "\(settings.departmentsSource)", "department_count": "\(settings.rules.departments.entries.count)",
            "workers": "\(transformation.workers)",
        ])
        let worker = PhaseWorker(
            phase: .transform, redis: redis, redisURL: settings.redisURL,
            claims: RunClaims(redis: redis, instance: settings.instanceID, ttl: settings.claimTTL),
            reconcileInterval: settings.reconcileInterval, logger: logger,
            work: .eachChunk { run, chunk, logger in try await transformation.work(run, chunk: chunk, logger: logger) }
        )
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: worker)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
