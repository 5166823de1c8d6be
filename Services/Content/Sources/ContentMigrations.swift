import Database
import ServiceKit

/// The `content` schema, in order. Applied migrations never change: add a new one.
enum ContentMigrations {
    static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
    ]
}
