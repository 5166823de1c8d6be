import Database
import ServiceKit

/// The `billing` schema, in order. Applied migrations never change: add a new one.
enum BillingMigrations {
    static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
    ]
}
