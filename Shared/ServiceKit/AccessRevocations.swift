import Contracts
import Database
import Foundation
import Logging

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

    /// The channel on which every change to either table is announced (payload: the user id).
    public static let channel = "access_revoked"

    /// Announces every tombstone and every revocation on `channel`, whoever writes them, so that
    /// each replica's `RevocationMemory` forgets what it knew of the user.
    public static func notificationMigration(version: Int) -> Migration {
        Migration(
            version: version, name: "access revocations announced",
            sql: """
                CREATE FUNCTION announce_access_revoked() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                BEGIN
                    PERFORM pg_notify('\(channel)', NEW.user_id::text);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER access_not_before_announced AFTER INSERT OR UPDATE ON access_not_before
                    FOR EACH ROW EXECUTE FUNCTION announce_access_revoked();
                CREATE TRIGGER user_tombstones_announced AFTER INSERT OR UPDATE ON user_tombstones
                    FOR EACH ROW EXECUTE FUNCTION announce_access_revoked();
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

    /// What this service knows of a user's access: deleted, or tokens before a moment refused.
    public struct State: Sendable, Equatable {
        public var deleted: Bool
        public var notBefore: Date?

        /// Why a token issued at `issuedAt` is refused, or nil.
        public func reason(issuedAt: Date) -> String? {
            if deleted { return "the account no longer exists" }
            if let notBefore, notBefore > issuedAt { return "the account's role changed since the token was issued; refresh it" }
            return nil
        }
    }

    /// The user's state, in one round trip.
    public static func state(of userID: UUID, on connection: PostgresConnection) throws -> State {
        let row = try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM user_tombstones WHERE user_id = \(userID)) AS deleted,
                   (SELECT not_before FROM access_not_before WHERE user_id = \(userID)) AS not_before
            """
        ).first!
        return State(deleted: try row.decode("deleted", as: Bool.self), notBefore: try row.decode("not_before", as: Date?.self))
    }

    /// Why a token of `userID` issued at `issuedAt` is refused here, or nil.
    public static func reason(_ userID: UUID, issuedAt: Date, on connection: PostgresConnection) throws -> String? {
        try state(of: userID, on: connection).reason(issuedAt: issuedAt)
    }

    /// The check a `TokenVerifier` makes on every request: from `memory` while it can vouch for
    /// the user, else from the database (and kept).
    public static func check(
        _ database: DatabasePool, memory: RevocationMemory?
    ) -> @Sendable (UUID, Date) async throws -> String? {
        { userID, issuedAt in
            if let known = memory?.state(of: userID) { return known.reason(issuedAt: issuedAt) }
            let generation = memory?.generation
            let state = try await database.withConnection { try AccessRevocations.state(of: userID, on: $0) }
            if let memory, let generation { memory.keep(state, of: userID, ifStill: generation) }
            return state.reason(issuedAt: issuedAt)
        }
    }
}

/// Each replica's memory of users' access states, so that a request does not ask the database
/// whether its token was revoked. It is only trusted while it hears every change: a listener
/// follows `AccessRevocations.channel` (announced by triggers on both tables), forgets a user on
/// each notification, and forgets everything when its connection was lost (notifications sent
/// meanwhile are gone); while it is not connected the memory answers nothing. A state read from
/// the database is kept only if no notification arrived while it was read, so a change committed
/// during the read is never hidden. Entries last at most `lifetime`, and the memory holds at
/// most `capacity` users (it starts afresh when full).
///
/// A revocation therefore takes effect here as soon as its NOTIFY arrives, milliseconds after
/// the event that carried it was handled.
public final class RevocationMemory: @unchecked Sendable {
    private struct Entry {
        var state: AccessRevocations.State
        var kept: ContinuousClock.Instant
    }

    private let lock = NSLock()
    private var entries: [UUID: Entry] = [:]
    private var changes: UInt64 = 0
    private var listening = false
    let lifetime: Duration
    let capacity: Int

    public init(lifetime: Duration = .seconds(60), capacity: Int = 100_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Whether it hears every change now (and so may vouch).
    var isListening: Bool { lock.withLock { listening } }

    /// Counts the changes heard: a state read is kept only if it has not moved meanwhile.
    var generation: UInt64 { lock.withLock { changes } }

    /// The user's state if the memory can vouch for it.
    func state(of user: UUID, now: ContinuousClock.Instant = .now) -> AccessRevocations.State? {
        lock.withLock {
            guard listening, let entry = entries[user], now - entry.kept < lifetime else { return nil }
            return entry.state
        }
    }

    func keep(_ state: AccessRevocations.State, of user: UUID, ifStill generation: UInt64, now: ContinuousClock.Instant = .now) {
        lock.withLock {
            guard listening, changes == generation else { return }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[user] = Entry(state: state, kept: now)
        }
    }

    /// A change of `user`'s state was announced (nil: anyone's may have changed).
    func changed(_ user: UUID?) {
        lock.withLock {
            changes &+= 1
            if let user { entries[user] = nil } else { entries.removeAll(keepingCapacity: true) }
        }
    }

    /// Whether the memory hears every change; losing that forgets everything.
    func setListening(_ value: Bool) {
        lock.withLock {
            guard listening != value else { return }
            entries.removeAll(keepingCapacity: true)
            changes &+= 1
            listening = value
        }
    }

    /// Follows the announcements on `listenURL` until the listener stops; the memory is trusted
    /// only while its connection is up.
    public func follow(listenURL: String, logger: Logger) -> PostgresListener {
        let listener = PostgresListener(url: listenURL, channels: [AccessRevocations.channel], name: "revocations", logger: logger)
        Task { [self] in
            // The connection's state is watched as well as the events: a lost connection must stop
            // the memory from vouching before the listener has reconnected.
            let watch = Task {
                while !Task.isCancelled {
                    setListening(listener.isConnected)
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            for await event in listener.events {
                switch event {
                case .notification(let notification): changed(UUID(uuidString: notification.payload))
                case .reconnected: changed(nil)
                }
            }
            watch.cancel()
            setListening(false)
        }
        return listener
    }
}
