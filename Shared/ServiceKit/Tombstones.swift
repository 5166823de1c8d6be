import Contracts
import Database
import Foundation

/// Deleted users, as every service learns them from `identity.user.deleted.v1`: a tombstone per
/// user, so that a late event cannot re-create what was erased and the user's remaining access
/// tokens are refused everywhere.
public enum Tombstones {
    public static func migration(version: Int) -> Migration {
        Migration(
            version: version, name: "user tombstones",
            sql: """
                CREATE TABLE user_tombstones (
                    user_id uuid PRIMARY KEY,
                    deleted_at timestamptz NOT NULL
                );
                """)
    }

    /// Records the tombstone, then lets the service erase what it holds (in the same transaction).
    public static func handler(erase: @escaping @Sendable (UUID, PostgresConnection) throws -> Void = { _, _ in }) -> EventHandler {
        EventHandler(IdentityUserDeletedV1.self, name: "tombstones") { event, connection in
            guard let userID = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
            try connection.execute(
                "INSERT INTO user_tombstones (user_id, deleted_at) VALUES (\(userID), \(event.data.deletedAt)) ON CONFLICT DO NOTHING")
            try erase(userID, connection)
        }
    }

    public static func isDeleted(_ userID: UUID, on connection: PostgresConnection) throws -> Bool {
        try !connection.query("SELECT 1 FROM user_tombstones WHERE user_id = \(userID)").isEmpty
    }
}
