import CLibPQ
import Foundation

/// One libpq connection. It is not thread-safe: a connection is used by one thread at a time
/// (the pool gives each connection a thread of its own).
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private let url: String
    private let options: String
    /// The schema(s) unqualified names resolve in, as given.
    public let searchPath: String?
    /// Statements prepared on this session, by SQL text: a hot statement is parsed and planned
    /// once per connection, not on every call.
    private var prepared: [String: String] = [:]
    private var preparedCount = 0
    /// Whether statements with parameters are prepared and reused (off behind a pooler that
    /// cannot keep a session's prepared statements).
    private let preparesStatements: Bool
    /// What the current transaction has done that later work in it may need to know (set by the
    /// callers, cleared when a transaction begins).
    public var marks: Set<String> = []
    /// The W3C trace context of the work the connection is doing, when it is traced (set by the
    /// pool for each piece of work, and by whoever runs several traced pieces in one transaction).
    public var traceparent: String?
    /// Actions to run once the current transaction has committed, by key (one per key).
    private var afterCommit: [(key: String, action: () -> Void)] = []
    private var inTransaction = false
    /// The statements that begin the current transaction, not sent yet: they go with its first
    /// statement, in the same round trip (and a transaction that runs none sends nothing).
    private var beginning: [Query]?

    /// How many prepared statements a session keeps before it starts over.
    static let preparedLimit = 512

    /// Connects to `url` (a `postgresql://` URI or a conninfo string). Sessions run in UTC with ISO
    /// dates, and in `searchPath` when given.
    /// With `statementTimeout`, the server cancels a statement that runs longer (SQLSTATE 57014)
    /// and ends a session left idle in a transaction for twice as long.
    public init(
        url: String, searchPath: String? = nil, applicationName: String = "syllabus", prepareStatements: Bool = true, statementTimeout: Duration? = nil
    ) throws {
        self.url = url
        self.searchPath = searchPath
        self.preparesStatements = prepareStatements
        var options = "-c TimeZone=UTC -c DateStyle=ISO"
        if let searchPath { options += " -c search_path=\(searchPath)" }
        if let statementTimeout {
            let milliseconds = max(1, statementTimeout.milliseconds)
            options += " -c statement_timeout=\(milliseconds) -c idle_in_transaction_session_timeout=\(2 * milliseconds)"
        }
        self.options = options
        self.applicationName = applicationName
        try connect()
    }

    private let applicationName: String

    deinit {
        if let handle { PQfinish(handle) }
    }

    private func connect() throws {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared.removeAll()
        // Keywords before `dbname` are defaults the URL may override; those after it win. A peer
        // that vanishes without closing the connection (a cut network, a frozen host) is noticed
        // within about 30 s, rather than the minutes TCP would take or never while a reply is
        // awaited: keepalives after 15 s idle, three probes 5 s apart, and at most 30 s for what
        // was sent to be acknowledged.
        let keywords = [
            "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
            "dbname", "connect_timeout", "options", "application_name",
        ]
        let values = ["15", "5", "3", "30000", url, "5", options, applicationName]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else { throw DatabaseError.connection("out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw DatabaseError.connection(message)
        }
        // Notices (`drop cascades to …`) are not errors; libpq would print them on stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
    }

    /// The value a connection option has on this connection (`keepalives_idle`, `sslmode` …), as
    /// libpq reports it.
    public func option(_ keyword: String) -> String? {
        guard let handle, let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let name = option.pointee.keyword {
            if String(cString: name) == keyword { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }

    /// Whether the connection is usable (it is not after a server restart).
    public var isHealthy: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Whether an idle connection is still alive. A server that restarted or ended the session
    /// has written to the socket (an error, then end-of-file); reading what is there without
    /// waiting tells it, so the pool can reconnect before the next statement instead of failing it.
    public var isAliveWhileIdle: Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        // An ended session sends its last error, then closes: read until nothing is waiting, so
        // that the close is seen too.
        for _ in 0..<8 {
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { return true }
            if descriptor.revents & Int16(POLLHUP | POLLERR) != 0 { return false }
            guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else { return false }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Drops a broken connection and makes a new one.
    public func reconnect() throws {
        try connect()
    }

    /// The server's process id for this session.
    public var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// Runs one parameterised statement. A statement with parameters is prepared on its first
    /// use on this connection and executed by name afterwards.
    @discardableResult
    public func execute(_ query: Query) throws -> QueryResult {
        guard let handle else { throw DatabaseError.connection("not connected") }
        // A C string ends at the first NUL: the server would store a value the caller never sent.
        if let index = query.binds.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw DatabaseError.nulInParameter(index: index + 1)
        }
        if let beginning {
            self.beginning = nil
            return try pipeline(beginning + [query], rollingBack: false).last!
        }
        guard preparesStatements, !query.binds.isEmpty else {
            let result: OpaquePointer? = withOptionalCStrings(query.binds) { values in
                PQexecParams(handle, query.sql, Int32(query.binds.count), nil, values, nil, nil, 0)
            }
            return try consume(result)
        }
        let idle = PQtransactionStatus(handle) == PQTRANS_IDLE
        do {
            return try executePrepared(query, on: handle)
        } catch DatabaseError.server(let error) where error.sqlState.rawValue == "0A000" || error.sqlState.rawValue == "26000" {
            // The statement's result changed shape under it (a table altered), or the session lost
            // it: prepare it afresh. Outside a transaction nothing was done, so try once more.
            forget(query.sql)
            guard idle else { throw DatabaseError.server(error) }
            return try executePrepared(query, on: handle)
        }
    }

    private func executePrepared(_ query: Query, on handle: OpaquePointer) throws -> QueryResult {
        let name: String
        if let known = prepared[query.sql] {
            name = known
        } else {
            if prepared.count >= Self.preparedLimit {
                _ = try consume(PQexec(handle, "DEALLOCATE ALL"))
                prepared.removeAll()
            }
            preparedCount += 1
            name = "s\(preparedCount)"
            _ = try consume(PQprepare(handle, name, query.sql, Int32(query.binds.count), nil))
            prepared[query.sql] = name
        }
        let result: OpaquePointer? = withOptionalCStrings(query.binds) { values in
            PQexecPrepared(handle, name, Int32(query.binds.count), values, nil, nil, 0)
        }
        return try consume(result)
    }

    private func forget(_ sql: String) {
        guard let name = prepared.removeValue(forKey: sql), let handle else { return }
        if PQtransactionStatus(handle) == PQTRANS_IDLE { _ = try? consume(PQexec(handle, "DEALLOCATE \(name)")) }
    }

    /// Runs `queries` in order in one round trip (libpq's pipeline mode) and returns their
    /// results: a learner's read with the transaction that scopes it (BEGIN, the scope, the
    /// query, COMMIT) costs one round trip instead of four. Statements with parameters are
    /// prepared on first use, as `execute` does. The first failure is thrown; the statements
    /// after it did not run, and a transaction it opened is rolled back.
    ///
    /// - Parameter rollingBack: false leaves a transaction the failure aborted to the caller.
    public func pipeline(_ queries: [Query], rollingBack: Bool = true) throws -> [QueryResult] {
        let queries = (beginning ?? []) + queries
        let begun = beginning?.count ?? 0
        beginning = nil
        let idle = handle.map { PQtransactionStatus($0) == PQTRANS_IDLE } ?? false
        do {
            return Array(try runPipeline(queries, rollingBack: rollingBack).dropFirst(begun))
        } catch DatabaseError.server(let error) where idle && (error.sqlState.rawValue == "0A000" || error.sqlState.rawValue == "26000") {
            // As in `execute`: a statement prepared earlier no longer fits; outside a transaction
            // begun earlier nothing was done, so prepare afresh and try once more.
            for query in queries { forget(query.sql) }
            if let handle, PQtransactionStatus(handle) != PQTRANS_IDLE { _ = try? consume(PQexec(handle, "ROLLBACK")) }
            return Array(try runPipeline(queries, rollingBack: rollingBack).dropFirst(begun))
        }
    }

    private func runPipeline(_ queries: [Query], rollingBack: Bool) throws -> [QueryResult] {
        guard let handle else { throw DatabaseError.connection("not connected") }
        for query in queries {
            if let index = query.binds.firstIndex(where: { $0?.utf8.contains(0) == true }) { throw DatabaseError.nulInParameter(index: index + 1) }
        }
        if preparesStatements, prepared.count + queries.count > Self.preparedLimit {
            _ = try consume(PQexec(handle, "DEALLOCATE ALL"))
            prepared.removeAll()
        }
        guard PQenterPipelineMode(handle) == 1 else { throw DatabaseError.connection(Self.trimmed(PQerrorMessage(handle))) }
        // What each result read answers: a preparation (named) or a statement's own result.
        var expected: [(sql: String, name: String)?] = []
        var sent = true
        for query in queries where sent {
            if preparesStatements && !query.binds.isEmpty {
                var name = prepared[query.sql]
                if name == nil {
                    preparedCount += 1
                    let fresh = "s\(preparedCount)"
                    sent = PQsendPrepare(handle, fresh, query.sql, Int32(query.binds.count), nil) == 1
                    expected.append((query.sql, fresh))
                    name = fresh
                }
                sent = sent && withOptionalCStrings(query.binds) { values in
                    PQsendQueryPrepared(handle, name!, Int32(query.binds.count), values, nil, nil, 0)
                } == 1
            } else {
                sent = withOptionalCStrings(query.binds) { values in
                    PQsendQueryParams(handle, query.sql, Int32(query.binds.count), nil, values, nil, nil, 0)
                } == 1
            }
            expected.append(nil)
        }
        guard sent, PQpipelineSync(handle) == 1 else {
            let message = Self.trimmed(PQerrorMessage(handle))
            reconnectAfterBrokenPipeline()
            throw DatabaseError.connection(message)
        }
        var results: [QueryResult] = []
        var failure: (any Error)?
        for preparing in expected {
            while let result = PQgetResult(handle) {
                if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                    PQclear(result)
                    continue
                }
                do {
                    let value = try consume(result)
                    if let preparing { prepared[preparing.sql] = preparing.name } else { results.append(value) }
                } catch {
                    failure = failure ?? error
                }
            }
        }
        // The sync's own result ends the pipeline.
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_PIPELINE_SYNC { break }
        }
        guard PQexitPipelineMode(handle) == 1 else {
            reconnectAfterBrokenPipeline()
            throw DatabaseError.connection("the pipeline did not end cleanly")
        }
        if let failure {
            if rollingBack, PQtransactionStatus(handle) != PQTRANS_IDLE { _ = try? consume(PQexec(handle, "ROLLBACK")) }
            throw failure
        }
        return results
    }

    /// A connection whose pipeline broke midway is in no known state: start afresh.
    private func reconnectAfterBrokenPipeline() {
        prepared.removeAll()
        try? reconnect()
    }

    /// Runs one or more statements without parameters (migrations, `LISTEN`).
    @discardableResult
    public func executeScript(_ sql: String) throws -> QueryResult {
        guard let handle else { throw DatabaseError.connection("not connected") }
        if let beginning {
            self.beginning = nil
            return try consume(PQexec(handle, (beginning.map(\.sql) + [sql]).joined(separator: "; ")))
        }
        return try consume(PQexec(handle, sql))
    }

    /// The rows of a query.
    public func query(_ query: Query) throws -> [Row] {
        try execute(query).rows
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws. The
    /// actions given to `afterCommit` run once it has committed.
    ///
    /// BEGIN is not sent on its own: it goes with the transaction's first statement, in the same
    /// round trip, and a transaction that runs no statement sends nothing at all.
    ///
    /// - Parameter opening: one statement without parameters that runs right after BEGIN.
    public func transaction<T>(opening: String? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        beginning = ["BEGIN"] + (opening.map { [Query(sql: $0)] } ?? [])
        inTransaction = true
        afterCommit.removeAll()
        marks.removeAll()
        let value: T
        do {
            value = try body(self)
        } catch {
            inTransaction = false
            afterCommit.removeAll()
            if beginning != nil {
                beginning = nil
            } else if isHealthy {
                _ = try? executeScript("ROLLBACK")
            }
            throw error
        }
        inTransaction = false
        do {
            if beginning != nil { beginning = nil } else { try executeScript("COMMIT") }
        } catch {
            afterCommit.removeAll()
            throw error
        }
        let actions = afterCommit
        afterCommit.removeAll()
        for entry in actions { entry.action() }
        return value
    }

    /// Runs `action` once the current transaction commits (never if it rolls back); at once when
    /// no transaction is open, since the statements before it have committed already. Actions
    /// with the same key run once per transaction.
    public func afterCommit(key: String, _ action: @escaping () -> Void) {
        guard inTransaction else { return action() }
        if !afterCommit.contains(where: { $0.key == key }) { afterCommit.append((key, action)) }
    }

    private func consume(_ result: OpaquePointer?) throws -> QueryResult {
        guard let result else {
            throw DatabaseError.connection(handle.map { Self.trimmed(PQerrorMessage($0)) } ?? "no result")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return QueryResult(rows: [], affectedRows: Self.affected(result))
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            return QueryResult(rows: Self.rows(of: result), affectedRows: Self.affected(result))
        default:
            throw error(from: result)
        }
    }

    private func error(from result: OpaquePointer) -> DatabaseError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        guard let state = field(Int32(UInt8(ascii: "C"))) else {
            if !isHealthy {
                return .connection(handle.map { Self.trimmed(PQerrorMessage($0)) } ?? "connection lost")
            }
            return .connection(Self.trimmed(PQresultErrorMessage(result)))
        }
        let error = ServerError(
            sqlState: SQLState(rawValue: state),
            message: field(Int32(UInt8(ascii: "M"))) ?? "",
            detail: field(Int32(UInt8(ascii: "D"))),
            constraint: field(Int32(UInt8(ascii: "n"))),
            table: field(Int32(UInt8(ascii: "t")))
        )
        if error.sqlState == .uniqueViolation { return .uniqueViolation(error) }
        if error.sqlState.errorClass == "08" || error.sqlState.rawValue == "57P01" { return .connection(error.description) }
        return .server(error)
    }

    private static func rows(of result: OpaquePointer) -> [Row] {
        let rowCount = Int(PQntuples(result))
        let fieldCount = Int(PQnfields(result))
        var names = [String]()
        names.reserveCapacity(fieldCount)
        for field in 0..<fieldCount {
            names.append(String(cString: PQfname(result, Int32(field))))
        }
        let columns = Columns(names: names)
        var rows = [Row]()
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values = [String?]()
            values.reserveCapacity(fieldCount)
            for field in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(field)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(field))))
                }
            }
            rows.append(Row(columns: columns, values: values))
        }
        return rows
    }

    private static func affected(_ result: OpaquePointer) -> Int {
        guard let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Notifications (used by the listener)

    var socket: Int32 {
        guard let handle else { return -1 }
        return PQsocket(handle)
    }

    /// Reads what the server sent and returns the notifications received.
    func drainNotifications() throws -> [PostgresNotification] {
        guard let handle else { throw DatabaseError.connection("not connected") }
        if PQconsumeInput(handle) == 0 {
            throw DatabaseError.connection(Self.trimmed(PQerrorMessage(handle)))
        }
        var received = [PostgresNotification]()
        while let notify = PQnotifies(handle) {
            let channel = String(cString: notify.pointee.relname)
            let payload = notify.pointee.extra.map { String(cString: $0) } ?? ""
            received.append(PostgresNotification(channel: channel, payload: payload))
            PQfreemem(notify)
        }
        return received
    }
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { UnsafePointer<CChar>(strdup($0)) }
    defer { pointers.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
    return (pointers + [nil]).withUnsafeBufferPointer { body($0.baseAddress!) }
}

func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    if strings.isEmpty { return body(nil) }
    let pointers: [UnsafePointer<CChar>?] = strings.map { $0.flatMap { UnsafePointer<CChar>(strdup($0)) } }
    defer { pointers.forEach { $0.map { free(UnsafeMutablePointer(mutating: $0)) } } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
