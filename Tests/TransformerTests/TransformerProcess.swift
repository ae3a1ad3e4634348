import Foundation
import PipelineCore
import PipelineRedis
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real `Transformer` binary (`.build/debug/Transformer`, built by `swift build --build-tests`)
/// running as a subprocess, its output in a file.
typealias TransformerProcess = ChildProcess

extension ChildProcess {
    static let transformerBinary = repositoryRoot + "/.build/debug/Transformer"

    /// Starts the transformer with `environment` (plus `PATH`), writing its output to `logPath`.
    convenience init(_ name: String, environment: [String: String], logPath: String) throws {
        try self.init(name: name, executable: Self.transformerBinary, environment: environment, logPath: logPath)
    }
}
