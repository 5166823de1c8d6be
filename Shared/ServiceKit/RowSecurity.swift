import Database
import Foundation

/// The two scopes of tables under row-level security (policies `learner_rows` and `system_rows`):
/// a request works as one learner and sees only their rows; event handlers and background
/// workers work in the system scope. Both last until the transaction ends; with neither set,
/// no row is visible or writable.
public enum RowSecurity {
    public static func enterLearner(_ user: UUID, on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT set_config('syllabus.user_id', \(user.uuidString.lowercased()), true)")
    }

    public static func enterSystem(on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT set_config('syllabus.scope', 'system', true)")
    }
}
