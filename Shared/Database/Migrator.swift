import Crypto
import Foundation
import Logging

/// One schema change: its SQL is compiled into the program (no resource bundle to ship).
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the SQL: an applied migration whose text later changes is refused.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

public enum MigrationError: Error, CustomStringConvertible {
    case outOfOrder(versions: [Int])
    case checksumMismatch(version: Int, name: String, applied: String, expected: String)

    public var description: String {
        switch self {
        case .outOfOrder(let versions):
            "migration versions must be unique and increasing, got \(versions)"
        case .checksumMismatch(let version, let name, let applied, let expected):
            "migration \(version) (\(name)) was applied with checksum \(applied.prefix(12))…, the program has \(expected.prefix(12))…: applied migrations must never change"
        }
    }
}

/// Applies a schema's migrations in order, each in its own transaction, under an advisory lock so
/// that replicas starting together do not race.
public struct Migrator: Sendable {
    public let schema: String
    public let migrations: [Migration]

    public init(schema: String, migrations: [Migration]) {
        self.schema = schema
        self.migrations = migrations
    }

    /// Checks the list itself: versions unique and increasing.
    public func validate() throws {
        let versions = migrations.map(\.version)
        guard zip(versions, versions.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw MigrationError.outOfOrder(versions: versions)
        }
    }

    /// Applies what is pending and returns the versions applied now.
    @discardableResult
    public func migrate(_ pool: DatabasePool, logger: Logger) async throws -> [Int] {
        try validate()
        let schema = self.schema
        let migrations = self.migrations
        return try await pool.withConnection { connection in
            let lockKey: Query = "SELECT pg_advisory_lock(hashtext(\("syllabus.migrate." + schema)))"
            try connection.execute(lockKey)
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext(\("syllabus.migrate." + schema)))") }
            let table = "\(Query.quoteIdentifier(schema)).schema_migrations"
            try connection.executeScript(
                """
                CREATE TABLE IF NOT EXISTS \(table) (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            var applied = [Int: String]()
            for row in try connection.query("SELECT version, checksum FROM \(unsafeRaw: table)") {
                applied[try row.decode("version", as: Int.self)] = try row.decode("checksum", as: String.self)
            }
            var appliedNow = [Int]()
            for migration in migrations {
                if let checksum = applied[migration.version] {
                    guard checksum == migration.checksum else {
                        throw MigrationError.checksumMismatch(
                            version: migration.version, name: migration.name, applied: checksum, expected: migration.checksum)
                    }
                    continue
                }
                try connection.transaction { tx in
                    try tx.execute("SELECT set_config('search_path', \(schema), true)")
                    try tx.executeScript(migration.sql)
                    try tx.execute(
                        "INSERT INTO \(unsafeRaw: table) (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))"
                    )
                }
                logger.info("applied migration", metadata: ["schema": "\(schema)", "version": "\(migration.version)", "name": "\(migration.name)"])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }
}
