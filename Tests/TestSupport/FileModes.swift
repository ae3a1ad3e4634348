import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The permission bits of the file or folder at `path` (`0o600`), read with `stat(2)`.
public func permissionBits(_ path: String) throws -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else {
        throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
    }
    return Int(info.st_mode & 0o7777)
}

/// `0o644` as `"644"`, for readable expectations.
public func octal(_ mode: Int) -> String { String(mode, radix: 8) }
