import Foundation
import Mustache

/// The dashboard's templates, style sheet and script, read once from the APICore resource
/// directory SwiftPM copies next to the executable (or the test runner); the Dockerfile copies
/// every `*.resources` directory into the image beside the binaries.
///
/// Resources rather than strings compiled in: the templates stay plain HTML files that are easy
/// to read and edit, and the lookup is the one the transformer's department table uses.
/// SwiftPM's generated `Bundle.module` is avoided because it stops the process when the
/// directory is missing; here a missing directory is an error the caller reports.
public struct DashboardResources: Sendable {
    /// The directory SwiftPM copies APICore's resources into.
    public static let directoryName = "etl-pipeline_APICore.resources"

    let library: MustacheLibrary
    /// `/ui/static/{file}`: file name → (content type, bytes).
    let assets: [String: (contentType: String, bytes: [UInt8])]

    /// The files `/ui/static/{file}` serves, with their content types.
    public static let assetTypes = [
        "dashboard.css": "text/css; charset=utf-8",
        "dashboard.js": "text/javascript; charset=utf-8",
    ]

    /// Loaded once per process; the error says where it looked.
    public static let shared: Result<DashboardResources, DashboardResourcesMissing> = {
        do throws(DashboardResourcesMissing) {
            return .success(try load())
        } catch {
            return .failure(error)
        }
    }()

    static func load() throws(DashboardResourcesMissing) -> DashboardResources {
        guard let directory = locate() else {
            throw DashboardResourcesMissing(
                message: "the dashboard's templates (\(directoryName)/Resources) are not next to the executable: copy that directory alongside it")
        }
        do {
            let library = try MustacheLibrary(templates: templates(in: directory))
            var assets: [String: (String, [UInt8])] = [:]
            for (name, type) in assetTypes {
                assets[name] = (type, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
            }
            return DashboardResources(library: library, assets: assets)
        } catch {
            throw DashboardResourcesMissing(message: "the dashboard's templates in \(directory) cannot be read: \(error)")
        }
    }

    /// `name.mustache` → template `name`, for every template in `directory`.
    private static func templates(in directory: String) throws -> [String: MustacheTemplate] {
        var templates: [String: MustacheTemplate] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".mustache") {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            templates[String(file.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
        }
        return templates
    }

    /// The `Resources` folder inside ``directoryName``, next to the executable or the test runner.
    private static func locate() -> String? {
        var directories = [Bundle.main.bundleURL.path]
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append((executable as NSString).deletingLastPathComponent)
        }
        if let resources = Bundle.main.resourceURL?.path { directories.append(resources) }
        return directories.map { "\($0)/\(directoryName)/Resources" }.first { path in
            FileManager.default.fileExists(atPath: path + "/head.mustache")
        }
    }

    /// Renders template `name` with `context`; a template that is missing renders nothing.
    func render(_ name: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: name) ?? ""
    }
}

/// The dashboard's resources could not be found or read.
public struct DashboardResourcesMissing: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
