import Database
import ServiceKit

/// The `progress` schema, in order. Applied migrations never change: add a new one.
enum ProgressMigrations {
    static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
    ]
}
