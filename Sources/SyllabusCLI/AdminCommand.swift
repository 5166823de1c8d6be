import ArgumentParser
import Foundation
import Identity
import Logging

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Administrators.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin account, or make an existing verified account an admin with this password (idempotent).")

        @Option(help: "Email (default: $SYLLABUS_ADMIN_EMAIL).")
        var email: String?

        @Option(help: "Password, 8 characters to 72 bytes (default: $SYLLABUS_ADMIN_PASSWORD).")
        var password: String?

        @Option(help: "Display name.")
        var name = "Admin"

        @Option(help: "Identity's database URL (default: $IDENTITY_DATABASE_URL).")
        var databaseURL: String?

        @Flag(help: "Take over an existing account whose address was never verified (its password is replaced, its sessions end).")
        var force = false

        func run() async throws {
            var logger = Logger(label: "syllabus.admin")
            logger.logLevel = .error
            let email = try setting(email, env: "SYLLABUS_ADMIN_EMAIL")
            let result = try await createAdmin(
                databaseURL: try setting(databaseURL, env: "IDENTITY_DATABASE_URL"), email: email,
                password: try setting(password, env: "SYLLABUS_ADMIN_PASSWORD"), name: name, force: force, logger: logger)
            print(result.created ? "created admin \(email) (\(result.id.uuidString.lowercased()))" : "\(email) is an admin (\(result.id.uuidString.lowercased()))")
        }
    }
}
