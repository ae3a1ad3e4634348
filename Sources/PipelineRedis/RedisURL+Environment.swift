import PipelineCore

extension RedisURL {
    /// `REDIS_URL`, default `redis://127.0.0.1:6379/0`; a bad value throws an error naming the
    /// variable (with any password redacted).
    public init(from env: Environment) throws {
        try self.init(env.string("REDIS_URL", default: "redis://127.0.0.1:6379/0", isSecret: true), name: "REDIS_URL")
    }
}
