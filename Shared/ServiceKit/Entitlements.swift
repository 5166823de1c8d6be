import Contracts
import Database
import Foundation

/// What a user may open, as billing decides it and every enforcing service keeps it: a local
/// projection of `billing.entitlement.changed.v1` (newest version wins). A user billing has not
/// spoken about yet has no access at tier `free`.
public enum Entitlements {
    public struct Entitlement: Sendable, Equatable {
        public var hasAccess: Bool
        /// As billing announced it (`Tier`'s word); a tier this build does not know is kept as sent.
        public var tier: String

        public init(hasAccess: Bool, tier: String) {
            self.hasAccess = hasAccess
            self.tier = tier
        }

        public static let none = Entitlement(hasAccess: false, tier: Tier.free.rawValue)

        /// The tier as the contract's word.
        public var plan: Tier { Tier(rawValue: tier) }
    }

    /// Needs `AggregateVersions.migration` too.
    public static func migration(version: Int) -> Migration {
        Migration(
            version: version, name: "entitlements projection",
            sql: """
                CREATE TABLE entitlements (
                    user_id uuid PRIMARY KEY,
                    has_access boolean NOT NULL,
                    tier text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                """)
    }

    /// Applies an entitlement change, ignoring one older than what is held, then lets the service
    /// react (in the same transaction) to a change it applied.
    public static func handler(
        onChange: @escaping @Sendable (UUID, Entitlement, PostgresConnection) throws -> Void = { _, _, _ in }
    ) -> EventHandler {
        EventHandler(BillingEntitlementChangedV1.self, name: "entitlements") { event, connection in
            guard let userID = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
            if try Tombstones.isDeleted(userID, on: connection) { return }
            guard try AggregateVersions.advance("entitlement", id: userID.lowercased, to: event.sequenceNumber, on: connection) else { return }
            let entitlement = Entitlement(hasAccess: event.data.hasAccess, tier: event.data.tier.rawValue)
            try connection.execute(
                """
                INSERT INTO entitlements (user_id, has_access, tier) VALUES (\(userID), \(entitlement.hasAccess), \(entitlement.tier))
                ON CONFLICT (user_id) DO UPDATE SET has_access = excluded.has_access, tier = excluded.tier, updated_at = now()
                """)
            try onChange(userID, entitlement, connection)
        }
    }

    public static func of(_ userID: UUID, on connection: PostgresConnection) throws -> Entitlement {
        guard let row = try connection.query("SELECT has_access, tier FROM entitlements WHERE user_id = \(userID)").first else { return .none }
        return Entitlement(hasAccess: try row.decode("has_access"), tier: try row.decode("tier"))
    }

    /// Erases what is held of a deleted user.
    public static func forget(_ userID: UUID, on connection: PostgresConnection) throws {
        try connection.execute("DELETE FROM entitlements WHERE user_id = \(userID)")
        try connection.execute("DELETE FROM aggregate_versions WHERE aggregate = 'entitlement' AND aggregate_id = \(userID.lowercased)")
    }
}
