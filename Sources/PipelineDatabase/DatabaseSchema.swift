import GRDB

/// The SQLite schema (docs/ARCHITECTURE.md, "Tables"), as versioned GRDB migrations.
///
/// The saver is the only writer and runs the migrator at start-up; the API opens the file
/// read-only and checks ``isUpToDate(_:)`` before serving. A new column or table is a new
/// migration appended below, never an edit of a shipped one.
///
/// Timestamps are ISO 8601 UTC text with milliseconds (`PipelineCore.Timestamp`), which sorts
/// correctly as text; JSON columns hold compact JSON text.
public enum DatabaseSchema {
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs, raw rows, users, dead letters, events") { db in
            // One row per run, failed runs included; written last for a run, in its own transaction,
            // so a run reads `completed` only when its rows are in.
            try db.create(table: "etl_runs") { t in
                t.primaryKey("run_id", .text)
                t.column("status", .text).notNull()
                t.column("failed_phase", .text)
                t.column("error", .text)
                t.column("started_at", .text).notNull()
                t.column("finished_at", .text)
                t.column("duration_ms", .integer)
                t.column("extracted", .integer)
                t.column("valid", .integer)
                t.column("invalid", .integer)
                t.column("loaded", .integer)
                t.column("unknown_department", .integer)
                // JSON array of {path, rows, bytes, sha256}: the staged files and the uploaded ones.
                t.column("staged_files", .text).notNull().defaults(to: "[]")
                t.column("remote_files", .text).notNull().defaults(to: "[]")
                t.column("updated_at", .text).notNull()
            }
            try db.create(index: "etl_runs_by_start", on: "etl_runs", columns: ["started_at"])
            try db.create(index: "etl_runs_by_status", on: "etl_runs", columns: ["status", "started_at"])

            // Every upstream row of every run, secrets masked, by its line in raw.jsonl.
            try db.create(table: "raw_users") { t in
                t.column("run_id", .text).notNull()
                t.column("line", .integer).notNull()
                // The row's `id` when it is a positive integer, else NULL.
                t.column("user_id", .integer)
                t.column("payload", .text).notNull()
                t.column("inserted_at", .text).notNull()
                t.primaryKey(["run_id", "line"])
            }
            try db.create(index: "raw_users_by_user", on: "raw_users", columns: ["user_id"])

            // The latest enriched state of each user, upserted by id.
            try db.create(table: "users") { t in
                t.primaryKey("id", .integer)
                t.column("run_id", .text).notNull()
                t.column("full_name", .text).notNull()
                t.column("email", .text).notNull()
                t.column("email_domain", .text).notNull()
                t.column("age", .integer).notNull()
                t.column("age_group", .text).notNull()
                t.column("department", .text).notNull()
                t.column("department_code", .text).notNull()
                t.column("bmi", .double)
                t.column("bmi_category", .text)
                t.column("birth_date", .text)
                // SHA-256 of the raw line; `updated_at` moves only when it changes.
                t.column("record_hash", .text).notNull()
                // The whole enriched row as written to users.jsonl (secrets masked or removed).
                t.column("payload", .text).notNull()
                t.column("inserted_at", .text).notNull()
                t.column("updated_at", .text).notNull()
            }
            try db.create(index: "users_by_department", on: "users", columns: ["department", "id"])
            try db.create(index: "users_by_run", on: "users", columns: ["run_id", "id"])

            // Rejected rows with every reason, by their line in raw.jsonl.
            try db.create(table: "dlq_records") { t in
                t.column("run_id", .text).notNull()
                t.column("line", .integer).notNull()
                // JSON array of {field, rule, message}.
                t.column("reasons", .text).notNull()
                // The masked row, or the raw text (as a JSON string) when the line is not JSON.
                t.column("payload", .text).notNull()
                t.column("inserted_at", .text).notNull()
                t.primaryKey(["run_id", "line"])
            }

            // What happened to a run, stage by stage.
            try db.create(table: "etl_run_events") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run_id", .text).notNull()
                t.column("at", .text).notNull()
                t.column("stage", .text).notNull()
                t.column("event", .text).notNull()
                t.column("detail", .text)
            }
            try db.create(index: "etl_run_events_by_run", on: "etl_run_events", columns: ["run_id", "at"])
        }
        migrator.registerMigration("v2: users.last_seen_run_id") { db in
            // The newest run that carried the user, changed or not. `run_id` stays the run of the
            // last change (the record_hash moved), so it cannot tell whether a late save of an
            // older run is older than the user's current state; this column can, and the saver
            // refuses such overwrites. NULL on rows written before v2: read as `run_id`.
            try db.alter(table: "users") { t in
                t.add(column: "last_seen_run_id", .text)
            }
        }
        return migrator
    }

    /// Whether every migration has run on `db`: a reader serves data only then.
    public static func isUpToDate(_ db: Database) throws -> Bool {
        try migrator.hasCompletedMigrations(db)
    }
}
