import GRDB
import GRDBSQLite

/// One prepared statement run once per line of a staged file, with the line bound as text
/// straight from the reader's buffer and the other parameters bound once.
///
/// Why: the saver's loads run one statement per row, 100,000s of rows per transaction. Through
/// GRDB's `execute(arguments:)` every row also paid for a `String` copy of the line, an array
/// of `DatabaseValue`s and GRDB's argument checks; here a row costs two bind calls and a step.
///
/// Same values as binding the line as a Swift `String` through GRDB, which binds the string's
/// NUL-terminated UTF-8 (`sqlite3_bind_text(…, -1, SQLITE_TRANSIENT)`): a line of plain ASCII
/// without NUL bytes — every line the transformer writes, in practice — is bound as it is
/// (`SQLITE_STATIC`, valid until the step returns); any other line goes through
/// `String(decoding:)` (invalid UTF-8 replaced) and is bound up to its first NUL, as GRDB does.
///
/// Use it inside one GRDB write on the connection it was made with; not `Sendable`.
public final class LineInsertStatement {
    private let statement: Statement
    private let connection: OpaquePointer?
    private let lineNumberIndex: Int32?

    /// - Parameters:
    ///   - sql: the statement; `?1` is the line.
    ///   - constants: text bound once to these parameter indexes for every line.
    ///   - lineNumberIndex: the parameter that gets each line's 1-based number, if any.
    public init(_ db: Database, sql: String, constants: [Int32: String], lineNumberIndex: Int32?) throws {
        statement = try db.makeStatement(sql: sql)
        connection = db.sqliteConnection
        self.lineNumberIndex = lineNumberIndex
        for (index, text) in constants {
            let rc = text.withCString { sqlite3_bind_text(statement.sqliteStatement, index, $0, -1, Self.transient) }
            if rc != SQLITE_OK { throw error(rc) }
        }
    }

    deinit {
        // Never leave ?1 pointing into a buffer that is gone.
        sqlite3_clear_bindings(statement.sqliteStatement)
    }

    /// Runs the statement for one line; throws GRDB's `DatabaseError` when SQLite refuses it.
    public func execute(line: UnsafeRawBufferPointer, number: Int) throws {
        let handle = statement.sqliteStatement
        if let lineNumberIndex {
            let rc = sqlite3_bind_int64(handle, lineNumberIndex, Int64(number))
            if rc != SQLITE_OK { throw error(rc) }
        }
        if Self.isPlainASCII(line), let base = line.baseAddress {
            let rc = sqlite3_bind_text(handle, 1, base.assumingMemoryBound(to: CChar.self), Int32(line.count), nil /* SQLITE_STATIC */)
            if rc != SQLITE_OK { throw error(rc) }
            try step()
        } else {
            let text = String(decoding: line, as: UTF8.self)
            let rc = text.withCString { sqlite3_bind_text(handle, 1, $0, -1, Self.transient) }
            if rc != SQLITE_OK { throw error(rc) }
            try step()
        }
    }

    private func step() throws {
        let handle = statement.sqliteStatement
        let rc = sqlite3_step(handle)
        if rc != SQLITE_DONE && rc != SQLITE_ROW {
            let failure = error(rc)
            sqlite3_reset(handle)
            throw failure
        }
        sqlite3_reset(handle)
    }

    private func error(_ rc: Int32) -> DatabaseError {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: statement.sql)
    }

    /// Every byte in 0x01…0x7F: text SQLite stores exactly as GRDB would have bound it.
    static func isPlainASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
        let n = bytes.count
        var i = 0
        let high: UInt64 = 0x8080_8080_8080_8080
        let ones: UInt64 = 0x0101_0101_0101_0101
        while n - i >= 8 {
            let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // A high bit set, or a zero byte (x - 0x01… borrows into that byte's high bit).
            if (x | ((x &- ones) & ~x)) & high != 0 { return false }
            i += 8
        }
        while i < n {
            let byte = bytes[i]
            if byte == 0 || byte >= 0x80 { return false }
            i += 1
        }
        return true
    }

    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
