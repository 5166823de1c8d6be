import Database
import Foundation
import TestSupport

/// Runs `body` with a pool on a temporary schema of the test stack, migrated as a service's own
/// schema is: what a service's routes and rules are tested against in process.
public func withMigratedSchema<T: Sendable>(
    _ migrations: [Migration], poolSize: Int = 4, _ body: (DatabasePool, String) async throws -> T
) async throws -> T {
    try await withTemporarySchema(poolSize: poolSize) { pool, schema in
        _ = try await Migrator(schema: schema, migrations: migrations).migrate(pool, logger: TestEnvironment.logger)
        return try await body(pool, schema)
    }
}
