import Database
import Foundation

/// The two scopes of tables under row-level security (policies `learner_rows` and `system_rows`):
/// a request works as one learner and sees only their rows; event handlers and background
/// workers work in the system scope. A scope lasts until the transaction ends or the other is
/// entered (entering one leaves the other); with neither set, no row is visible or writable.
public enum RowSecurity {
    public static func enterLearner(_ user: UUID, on connection: PostgresConnection) throws {
        connection.marks.insert(mark)
        _ = try connection.query("SELECT set_config('syllabus.user_id', \(user.uuidString.lowercased()), true), set_config('syllabus.scope', '', true)")
    }

    /// `enterLearner` as SQL without parameters, to run with BEGIN.
    static func enterLearnerSQL(_ user: UUID) -> String {
        "SELECT set_config('syllabus.user_id', '\(user.uuidString.lowercased())', true), set_config('syllabus.scope', '', true)"
    }

    public static func enterSystem(on connection: PostgresConnection) throws {
        connection.marks.insert(mark)
        _ = try connection.query("SELECT set_config('syllabus.scope', 'system', true), set_config('syllabus.user_id', '', true)")
    }

    /// The transaction mark (`PostgresConnection.marks`) of a transaction that entered a scope.
    public static let mark = "row-security-scope"

    /// SQL that leaves both scopes (for the rest of the transaction, or until one is entered).
    public static let leaveScopesSQL = "SELECT set_config('syllabus.scope', '', true), set_config('syllabus.user_id', '', true)"

    /// Migration SQL that puts `tables` (each with a `user_id` column) under these policies,
    /// forced for the tables' owner too.
    public static func policiesSQL(_ tables: [String]) -> String {
        """

        DO $$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY ARRAY[\(tables.map { "'\($0)'" }.joined(separator: ", "))] LOOP
                EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
                EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
                EXECUTE format($p$CREATE POLICY learner_rows ON %I
                    USING (user_id = nullif(current_setting('syllabus.user_id', true), '')::uuid)
                    WITH CHECK (user_id = nullif(current_setting('syllabus.user_id', true), '')::uuid)$p$, t);
                EXECUTE format($p$CREATE POLICY system_rows ON %I
                    USING (current_setting('syllabus.scope', true) = 'system')
                    WITH CHECK (current_setting('syllabus.scope', true) = 'system')$p$, t);
            END LOOP;
        END
        $$;
        """
    }
}

extension DatabasePool {
    /// One query in `user`'s scope, in a read-only transaction begun, scoped and committed in the
    /// same round trip as the query.
    public func read(asLearner user: UUID, _ query: Query) async throws -> [Row] {
        try await read(asLearner: user, [query])[0]
    }

    /// Queries that do not depend on each other's results, in `user`'s scope, in one read-only
    /// transaction and one round trip; the rows of each.
    public func read(asLearner user: UUID, _ queries: [Query]) async throws -> [[Row]] {
        try await withConnection { connection in
            let scope: Query = "SELECT set_config('syllabus.user_id', \(user.uuidString.lowercased()), true), set_config('syllabus.scope', '', true)"
            let results = try connection.pipeline(["BEGIN READ ONLY", scope] + queries + ["COMMIT"])
            return results[2..<(2 + queries.count)].map(\.rows)
        }
    }

    /// One transaction that sees and writes only `user`'s rows of the tables under row-level
    /// security. The scope is entered in the round trip that begins the transaction (a UUID, as
    /// Swift formats it, is the only value written into that SQL).
    public func transaction<T: Sendable>(asLearner user: UUID, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await transaction(opening: RowSecurity.enterLearnerSQL(user)) { connection in
            connection.marks.insert(RowSecurity.mark)
            return try body(connection)
        }
    }
}
