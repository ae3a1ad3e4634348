import Hummingbird
import Logging
import PipelineCore

/// The API's settings (docs/API.md): `API_HOST`, `API_PORT`, `DB_PATH`, `SECRET_FIELDS`,
/// `LOG_LEVEL`, `LOG_FORMAT`, and the hardening ones: `API_IDLE_TIMEOUT_SECONDS`,
/// `API_READ_TIMEOUT_SECONDS`, `API_MAX_CONNECTIONS`, `API_ALLOWED_HOSTS`.
public struct APISettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var databasePath: String
    /// What the second masking of served payloads hides (the transformer's list).
    public var secretFields: SecretFields = .default
    public var log: LogSettings
    public var connections: ConnectionSettings
    public var allowedHosts: AllowedHosts

    public init(
        host: String = "127.0.0.1", port: Int = 8000, databasePath: String = "./database/data.db", log: LogSettings = LogSettings(),
        connections: ConnectionSettings = ConnectionSettings(), allowedHosts: AllowedHosts = .default
    ) {
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.log = log
        self.connections = connections
        self.allowedHosts = allowedHosts
    }

    public init(from env: PipelineCore.Environment) throws {
        host = env.string("API_HOST", default: "127.0.0.1")
        port = try env.port("API_PORT", default: 8000)
        databasePath = env.string("DB_PATH", default: "./database/data.db")
        secretFields = try SecretFields(from: env)
        log = try LogSettings(from: env)
        connections = ConnectionSettings(
            idleTimeout: try env.seconds("API_IDLE_TIMEOUT_SECONDS", default: 30, in: 0.1...3600),
            readTimeout: try env.seconds("API_READ_TIMEOUT_SECONDS", default: 10, in: 0.1...3600),
            maxConnections: try env.int("API_MAX_CONNECTIONS", default: 256, in: 1...65536))
        allowedHosts = try AllowedHosts(parsing: env.string("API_ALLOWED_HOSTS", default: "localhost,127.0.0.1,[::1],api"))
    }
}

/// Builds the Hummingbird application: router, middleware and routes over a ``LazyReader``.
public enum APIServer {
    /// The router alone, for tests that drive it without a socket.
    public static func router(
        database: LazyReader, masking: SecretMasking = SecretMasking(), logger: Logger, allowedHosts: AllowedHosts = .default,
        metrics: APIMetrics = APIMetrics()
    ) -> Router<BasicRequestContext> {
        let router = Router(options: [.autoGenerateHeadEndpoints])
        router.add(middleware: APIMiddleware(logger: logger, allowedHosts: allowedHosts, metrics: metrics))
        APIRoutes(database: database, masking: masking, metrics: metrics).register(on: router)
        DashboardRoutes(database: database, masking: masking).register(on: router)
        return router
    }

    public static func application(
        settings: APISettings, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let database = LazyReader(path: settings.databasePath)
        return Application(
            router: router(
                database: database, masking: SecretMasking(fields: settings.secretFields), logger: logger, allowedHosts: settings.allowedHosts),
            server: .guardedHTTP1(settings: settings.connections, logger: logger),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "etl-pipeline-api"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
    }
}
