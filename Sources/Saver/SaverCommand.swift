import ArgumentParser
import Foundation
import GRDB
import Logging
import PipelineCore
import PipelineRedis
import SaverCore
import ServiceLifecycle

/// The saver stage: loads transformed runs into SQLite, uploads their files over SFTP, and
/// records every run in `etl_runs`. Runs until SIGTERM or SIGINT.
@main
struct SaverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Saver",
        abstract: "Load transformed runs into SQLite and upload their files over SFTP, then signal completion.",
        discussion: "Settings come from environment variables; see .env.example."
    )

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings: SaverSettings
        let hooks: SaverHooks
        do {
            settings = try SaverSettings(from: SettingsReader(environment))
            #if SAVER_TEST_HOOKS
            hooks = try SaverHooks(environment: environment)
            #else
            hooks = .none
            #endif
        } catch {
            throw StartupError("saver: \(error)")
        }
        do {
            try settings.encryption?.check()
        } catch {
            throw StartupError("saver: uploads are to be encrypted (SFTP_ENCRYPT_RECIPIENTS), but the age tool cannot: \(error)")
        }
        PipelineLogging.bootstrap(stage: "saver", settings: settings.log)
        let logger = Logger(label: "saver")
        let database: DatabasePool
        do {
            database = try await Saver.openDatabase(path: settings.databasePath, fileMode: settings.databaseFileMode)
        } catch {
            throw StartupError("saver: cannot open the database DB_PATH=\(settings.databasePath): \(error)")
        }
        let redis = RedisClient(url: settings.redisURL)
        defer { redis.close() }
        let saver = Saver(settings: settings, database: database, redis: redis, logger: logger, hooks: hooks)
        logger.info("starting", metadata: [
            "redis": "\(settings.redisURL)", "data_dir": "\(settings.staging.dataDirectory)",
            "keep_runs": "\(settings.staging.keepRuns)", "db_path": "\(settings.databasePath)",
            "db_file_mode": "\(settings.databaseFileMode.rawValue)",
            "sftp": "\(settings.sftp)", "remote_dir": "\(settings.remoteDirectory)",
            "reconcile_every_s": "\(settings.reconcileInterval.seconds)", "claim_ttl_s": "\(settings.claimTTL.seconds)",
            "encrypt_to": "\(settings.encryption.map { $0.recipients.map(\.encoded).joined(separator: ",") } ?? "off")",
        ])
        #if SAVER_TEST_HOOKS
        if let step = hooks.pauseAfter {
            logger.warning("test hook SAVER_TEST_PAUSE_AFTER is set: every save pauses after \(step.rawValue)")
        }
        #endif
        let group = ServiceGroup(configuration: .init(
            services: saver.services().map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        // A WAL merge requested by the last save finishes before the process ends.
        saver.store.checkpointer.waitForIdle()
        logger.info("stopped")
    }
}
