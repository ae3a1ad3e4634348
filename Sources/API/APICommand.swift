import APICore
import ArgumentParser
import Hummingbird
import Logging
import PipelineCore

/// The API stage: a read-only HTTP API over the database the saver writes (docs/API.md).
@main
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "API",
        abstract: "Serve the run ledger and loaded users read-only over HTTP.",
        discussion: """
            Settings come from environment variables (see .env.example): API_HOST, API_PORT, DB_PATH, \
            LOG_LEVEL, LOG_FORMAT, and the connection limits API_IDLE_TIMEOUT_SECONDS, \
            API_READ_TIMEOUT_SECONDS, API_MAX_CONNECTIONS and API_ALLOWED_HOSTS (docs/API.md). The database is opened read-only when a request first needs it; until \
            the saver has created it, /health reports it not ready and data endpoints answer 503. \
            SIGTERM or SIGINT stops the server gracefully.
            """
    )

    func run() async throws {
        let settings: APISettings
        do {
            settings = try APISettings(from: SettingsReader())
        } catch {
            throw StartupError("api: \(error)")
        }
        // The dashboard's templates ship beside the binary (APICore's resource directory): a
        // deployment that lost them is refused at start-up rather than serving broken pages.
        if case .failure(let error) = DashboardResources.shared {
            throw StartupError("api: \(error)")
        }
        PipelineLogging.bootstrap(stage: "api", settings: settings.log)
        let logger = Logger(label: "api")
        logger.info("starting", metadata: [
            "host": "\(settings.host)", "port": "\(settings.port)", "db_path": "\(settings.databasePath)",
            "idle_timeout": "\(settings.connections.idleTimeout)", "read_timeout": "\(settings.connections.readTimeout)",
            "max_connections": "\(settings.connections.maxConnections)", "allowed_hosts": "\(settings.allowedHosts)",
        ])
        if settings.allowedHosts == .any {
            logger.warning("API_ALLOWED_HOSTS=*: any Host is answered, so a web page can read the API through DNS rebinding")
        }
        let app = APIServer.application(settings: settings, logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
