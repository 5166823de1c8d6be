/// A five-character SQLSTATE code, as Postgres reports it.
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let uniqueViolation = SQLState(rawValue: "23505")
    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    public static let checkViolation = SQLState(rawValue: "23514")
    public static let notNullViolation = SQLState(rawValue: "23502")
    public static let serializationFailure = SQLState(rawValue: "40001")
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    public static let insufficientPrivilege = SQLState(rawValue: "42501")
    public static let undefinedTable = SQLState(rawValue: "42P01")
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let adminShutdown = SQLState(rawValue: "57P01")
    public static let crashShutdown = SQLState(rawValue: "57P02")
    public static let cannotConnectNow = SQLState(rawValue: "57P03")
    public static let readOnlySQLTransaction = SQLState(rawValue: "25006")
    public static let tooManyConnections = SQLState(rawValue: "53300")

    /// The class of the code: `23` integrity, `08` connection, `40` transaction rollback …
    public var errorClass: Substring { rawValue.prefix(2) }
    public var description: String { rawValue }
}

/// What the server said about a failed statement.
public struct ServerError: Sendable, CustomStringConvertible {
    public let sqlState: SQLState
    public let message: String
    public let detail: String?
    public let constraint: String?
    public let table: String?

    public init(sqlState: SQLState, message: String, detail: String? = nil, constraint: String? = nil, table: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraint = constraint
        self.table = table
    }

    public var description: String {
        var text = "\(sqlState): \(message)"
        if let detail { text += " (\(detail))" }
        return text
    }
}

/// Every failure of the database layer. Unique violations have a case of their own: callers map
/// them to a conflict instead of a server error.
public enum DatabaseError: Error, CustomStringConvertible {
    /// SQLSTATE 23505: a unique constraint refused the write.
    case uniqueViolation(ServerError)
    /// Any other error the server reported for a statement.
    case server(ServerError)
    /// The connection could not be made or was lost.
    case connection(String)
    /// A value could not be read into the requested Swift type.
    case decoding(column: String, message: String)
    /// The pool was shut down.
    case shutdown
    /// Every connection of the pool stayed busy for as long as work may wait for one; the work
    /// did not run.
    case noConnectionFree(waited: Duration)
    /// A text parameter holds a NUL character, which Postgres text cannot store: refused before
    /// it reaches the server rather than cut short at the C boundary. `index` is 1-based (`$n`).
    case nulInParameter(index: Int)

    public var sqlState: SQLState? {
        switch self {
        case .uniqueViolation(let error), .server(let error): error.sqlState
        default: nil
        }
    }

    /// True when the database cannot take the statement now but will soon: the connection is
    /// lost or refused, the server is shutting down or starting (a restart, a failover), the
    /// session reached a node that is no longer the primary, or the statement ran past its
    /// timeout (waiting for a lock, an overloaded server), or no connection of the pool came free
    /// in time. A client may send the request again.
    public var isUnavailable: Bool {
        switch self {
        case .connection, .noConnectionFree: true
        case .server(let error):
            error.sqlState.errorClass == "08"
                || [SQLState.adminShutdown, .crashShutdown, .cannotConnectNow, .readOnlySQLTransaction, .tooManyConnections, .queryCanceled]
                    .contains(error.sqlState)
        default: false
        }
    }

    public var description: String {
        switch self {
        case .uniqueViolation(let error): "unique violation: \(error)"
        case .server(let error): "server error: \(error)"
        case .connection(let message): "connection error: \(message)"
        case .decoding(let column, let message): "cannot decode column \(column): \(message)"
        case .shutdown: "the database pool is shut down"
        case .noConnectionFree(let waited): "no database connection came free within \(waited)"
        case .nulInParameter(let index): "parameter $\(index) contains a NUL character"
        }
    }
}
