import ArgumentParser
import Database
import Identity
import Logging

/// Every service migrates its own schema when it starts. Identity's can also be migrated ahead,
/// so that the first admin exists before identity accepts a single registration.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Migrate identity's schema ahead of its start (to create the first admin before it serves).")

    @Argument(help: "The service whose schema to migrate: identity.")
    var service: String

    @Option(help: "The schema owner's database URL (default: $IDENTITY_MIGRATION_DATABASE_URL).")
    var databaseURL: String?

    func run() async throws {
        guard service == "identity" else {
            throw ValidationError("only identity's schema is migrated from here; every service migrates its own at start")
        }
        var logger = Logger(label: "syllabus.migrate")
        logger.logLevel = .error
        let pool = DatabasePool(
            url: try setting(databaseURL, env: "IDENTITY_MIGRATION_DATABASE_URL"), size: 1, searchPath: "identity", name: "identity-migrate",
            logger: logger)
        defer { pool.shutdown() }
        let applied = try await Migrator(schema: "identity", migrations: IdentityMigrations.all).migrate(pool, logger: logger)
        print(applied.isEmpty ? "identity is up to date" : "identity migrated: \(applied.map(String.init).joined(separator: ", "))")
    }
}
