import PipelineCore

extension RedisURL {
    /// `REDIS_URL`, default `redis://127.0.0.1:6379/0`; a bad value throws an error naming the
    /// variable (with any password redacted).
    public init(from env: SettingsReader) throws {
        try self.init(env.string(.redisURL), name: Setting.redisURL.name)
    }
}
