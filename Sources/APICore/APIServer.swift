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

    public init(from env: SettingsReader) throws {
        host = env.string(.apiHost)
        port = try env.port(.apiPort)
        databasePath = env.string(.databasePath)
        secretFields = try SecretFields(from: env)
        log = try LogSettings(from: env)
        connections = ConnectionSettings(
            idleTimeout: try env.seconds(.apiIdleTimeout),
            readTimeout: try env.seconds(.apiReadTimeout),
            maxConnections: try env.int(.apiMaxConnections))
        allowedHosts = try AllowedHosts(parsing: env.string(.apiAllowedHosts))
    }

    /// Every setting the API reads.
    public static let settings: [Setting] = [.apiHost, .apiPort, .databasePath, .secretFields, .apiIdleTimeout, .apiReadTimeout,
                                             .apiMaxConnections, .apiAllowedHosts] + LogSettings.settings
}

extension Setting {
    public static let apiHost = Setting("API_HOST", .text, default: "127.0.0.1", help: "Listen address of the read-only HTTP API")
    public static let apiPort = Setting(
        "API_PORT", .port, default: "8000",
        help: "Listen port of the API; under docker compose, the port published on the host (on API_PUBLISH_ADDRESS)")
    public static let apiAllowedHosts = Setting(
        "API_ALLOWED_HOSTS", .text, default: "localhost,127.0.0.1,[::1],api",
        help: "Host names the API answers to (the Host header, port ignored); others get 421, against DNS rebinding. "
            + "Comma-separated, no ports; `api` is the compose service name. * answers any host (unsafe)")
    public static let apiIdleTimeout = Setting(
        "API_IDLE_TIMEOUT_SECONDS", .seconds(0.1...3600), default: "30",
        help: "A connection with no request in progress is closed after this many seconds")
    public static let apiReadTimeout = Setting(
        "API_READ_TIMEOUT_SECONDS", .seconds(0.1...3600), default: "10",
        help: "A request must arrive in full within this many seconds of its first byte, or the connection is closed")
    public static let apiMaxConnections = Setting(
        "API_MAX_CONNECTIONS", .integer(1...65536), default: "256",
        help: "Connections open at once; more are answered 503 (Retry-After: 1) and closed")
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
