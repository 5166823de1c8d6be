import ArgumentParser
import Contracts
import Database
import Foundation
import Logging
import ServiceKit

struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox", abstract: "Inspect and release outbox rows the broker refused.", subcommands: [List.self, Release.self])

    struct Target: ParsableArguments {
        @Argument(help: "The producing service (identity, billing, content, progress, notifications, analytics).")
        var service: String

        @Option(help: "A database URL that may read and write the service's schema (default: $ADMIN_DATABASE_URL).")
        var databaseURL: String?

        func pool() throws -> (DatabasePool, ServiceName) {
            guard let name = ServiceName(rawValue: service) else { throw ValidationError("unknown service \(service)") }
            var logger = Logger(label: "syllabus.outbox")
            logger.logLevel = .error
            let pool = DatabasePool(
                url: try setting(databaseURL, env: "ADMIN_DATABASE_URL"), size: 1, searchPath: name.rawValue, name: "syllabus-outbox",
                logger: logger)
            return (pool, name)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the rows held back: parked after too many refusals, or waiting for their next attempt.")

        @OptionGroup var target: Target

        func run() async throws {
            let (pool, _) = try target.pool()
            defer { pool.shutdown() }
            let entries = try await pool.withConnection { try ParkedOutbox.list(on: $0) }
            if entries.isEmpty {
                print("no outbox row of \(target.service) is held back")
                return
            }
            for entry in entries {
                let state = entry.parkedAt.map { "parked since \(RFC3339.format($0))" } ?? "retrying"
                print("\(entry.eventID.lowercased)  \(entry.routingKey)  aggregate \(entry.aggregateID)")
                print("  \(state), \(entry.attempts) attempt(s); last: \(entry.lastError ?? "-")")
            }
            print("\(entries.count) row(s); rows behind them of the same aggregate wait")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release parked rows: the relay tries them again at once, and the rows behind them follow.")

        @OptionGroup var target: Target

        @Option(name: .customLong("id"), help: "Only the event with this id (repeatable). Default: every parked row.")
        var ids: [String] = []

        func run() async throws {
            let eventIDs = try ids.map { text -> UUID in
                guard let id = UUID(uuidString: text) else { throw ValidationError("not an event id: \(text)") }
                return id
            }
            let (pool, service) = try target.pool()
            defer { pool.shutdown() }
            let released = try await pool.withConnection { try ParkedOutbox.release(eventIDs, service: service, on: $0) }
            print("released \(released) parked row(s) of \(service.rawValue)")
        }
    }
}
