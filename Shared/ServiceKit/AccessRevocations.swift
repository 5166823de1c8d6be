import Contracts
import Database
import Foundation

/// When each user's earlier access tokens stopped counting, as every service learns it from
/// `identity.user.role_changed.v1`: a token issued before the change carries the old role, so it
/// is refused everywhere on the next request (the client refreshes and gets one with the new
/// role). Each service keeps it in its own database — replicas compete on one queue, so no
/// process sees every event — beside the tombstones of deleted users.
public enum AccessRevocations {
    public static func migration(version: Int) -> Migration {
        Migration(
            version: version, name: "access not before",
            sql: """
                CREATE TABLE access_not_before (
                    user_id uuid PRIMARY KEY,
                    not_before timestamptz NOT NULL
                );
                """)
    }

    /// Tokens of `userID` issued before `time` no longer count (a later time only ever moves it on).
    public static func revoke(_ userID: UUID, before time: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO access_not_before (user_id, not_before) VALUES (\(userID), \(time))
            ON CONFLICT (user_id) DO UPDATE SET not_before = greatest(access_not_before.not_before, excluded.not_before)
            """)
    }

    /// Projects role changes.
    public static func handler() -> EventHandler {
        EventHandler(IdentityUserRoleChangedV1.self, name: "access.not_before") { event, connection in
            guard let userID = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
            try revoke(userID, before: event.data.changedAt, on: connection)
        }
    }

    /// Why a token of `userID` issued at `issuedAt` is refused here, or nil: one round trip for the
    /// tombstone and the role change.
    public static func reason(_ userID: UUID, issuedAt: Date, on connection: PostgresConnection) throws -> String? {
        let row = try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM user_tombstones WHERE user_id = \(userID)) AS deleted,
                   EXISTS (SELECT 1 FROM access_not_before WHERE user_id = \(userID) AND not_before > \(issuedAt)) AS stale
            """
        ).first
        if try row?.decode("deleted", as: Bool.self) == true { return "the account no longer exists" }
        if try row?.decode("stale", as: Bool.self) == true { return "the account's role changed since the token was issued; refresh it" }
        return nil
    }
}
