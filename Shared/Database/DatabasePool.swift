import Foundation
import Logging
import Metrics
import Tracing

/// A fixed number of connections, each owned by a thread of its own. Work is handed to the next
/// free thread and runs there from start to end, so a transaction never hops between threads and
/// blocking libpq calls never occupy Swift's cooperative pool.
public final class DatabasePool: Sendable {
    public let size: Int
    private let queue: JobQueue
    private let logger: Logger
    private let name: String

    /// - Parameters:
    ///   - url: a `postgresql://` URI.
    ///   - size: the number of connections (and threads); explicit on purpose.
    ///   - searchPath: the schema(s) unqualified names resolve in.
    ///   - prepareStatements: prepare each statement with parameters once per connection (off only
    ///     behind a pooler that cannot keep prepared statements).
    ///   - statementTimeout: how long a statement may run before the server cancels it (none by default).
    ///   - acquireTimeout: how long work may wait for a free connection before it fails with
    ///     `DatabaseError.noConnectionFree` without running (no limit by default).
    public init(
        url: String, size: Int, searchPath: String? = nil, name: String = "db", prepareStatements: Bool = true, statementTimeout: Duration? = nil,
        acquireTimeout: Duration? = nil, logger: Logger
    ) {
        precondition(size > 0, "a pool needs at least one connection")
        self.size = size
        self.logger = logger
        self.name = name
        let queue = JobQueue(pool: name, size: size)
        self.queue = queue
        for index in 0..<size {
            let worker = Worker(
                url: url, searchPath: searchPath, applicationName: name, prepareStatements: prepareStatements, statementTimeout: statementTimeout,
                queue: queue, logger: logger)
            let thread = Thread { worker.run() }
            thread.name = "\(name)-pg-\(index)"
            thread.start()
        }
        if let acquireTimeout {
            let thread = Thread { queue.expireWaiting(after: acquireTimeout) }
            thread.name = "\(name)-pg-deadline"
            thread.start()
        }
    }

    /// Runs `body` with a connection of the pool, on that connection's thread. Within a traced
    /// request or event, the work is a span of its own, and the connection knows its context
    /// (`PostgresConnection.traceparent`) while it runs: what it writes down for later (an outbox
    /// row, a queued mail) continues the trace.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        guard TraceContext.isRecording, let current = ServiceContext.current, TraceContext.traceparent(of: current) != nil else {
            return try await run(body, traceparent: nil)
        }
        return try await withSpan("postgresql \(name)", context: current, ofKind: .client) { span in
            span.attributes["db.system.name"] = "postgresql"
            span.attributes["db.namespace"] = name
            return try await run(body, traceparent: TraceContext.traceparent(of: span.context))
        }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T, traceparent: String?) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.submit { connection in
                switch connection {
                case .success(let connection):
                    connection.traceparent = traceparent
                    continuation.resume(with: Result { try body(connection) })
                    connection.traceparent = nil
                case .failure(let error):
                    continuation.resume(throwing: error)
                }
            }
            if !accepted { continuation.resume(throwing: DatabaseError.shutdown) }
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    ///
    /// - Parameter opening: statements without parameters run in the same round trip as BEGIN.
    public func transaction<T: Sendable>(opening: String? = nil, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withConnection { connection in try connection.transaction(opening: opening, body) }
    }

    /// Runs one statement.
    @discardableResult
    public func execute(_ query: Query) async throws -> QueryResult {
        try await withConnection { try $0.execute(query) }
    }

    /// Runs a statement that changes at most `limit` rows (the statement `batch(limit)` makes)
    /// again and again, each time in a transaction of its own, until it changes fewer or the task
    /// is cancelled; returns how many rows it changed in all. For removing or rewriting many rows
    /// without long locks or one statement meeting the statement timeout.
    @discardableResult
    public func inBatches(of limit: Int, _ batch: (Int) -> Query) async throws -> Int {
        var total = 0
        var changed = 0
        repeat {
            changed = try await execute(batch(limit)).affectedRows
            total += changed
        } while changed == limit && !Task.isCancelled
        return total
    }

    /// The rows of one query.
    public func query(_ query: Query) async throws -> [Row] {
        try await execute(query).rows
    }

    /// Whether a trivial query succeeds now.
    public func ping() async -> Bool {
        (try? await execute("SELECT 1")) != nil
    }

    /// Closes every connection once the work already queued has run. Later calls fail with
    /// `DatabaseError.shutdown`.
    public func shutdown() {
        queue.close()
    }
}

/// Work waiting for a connection, shared by the pool's threads.
final class JobQueue: @unchecked Sendable {
    typealias Job = (Result<PostgresConnection, any Error>) -> Void
    private let condition = NSCondition()
    /// In the order submitted, so the longest waiting is always at `head`.
    private var jobs: [(job: Job, submitted: ContinuousClock.Instant)] = []
    private var head = 0
    private var closed = false
    /// Jobs taken by a thread and not finished yet.
    private var running = 0
    private let inUse: Gauge
    private let waiting: Gauge

    /// - Parameters: pool, size: the pool's name and size, for its gauges
    ///   (`db_pool_connections_in_use`, `db_pool_requests_waiting`, `db_pool_connections`).
    init(pool: String, size: Int) {
        let dimensions = [("pool", pool)]
        inUse = Gauge(label: "db_pool_connections_in_use", dimensions: dimensions)
        waiting = Gauge(label: "db_pool_requests_waiting", dimensions: dimensions)
        Gauge(label: "db_pool_connections", dimensions: dimensions).record(size)
    }

    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if closed { return false }
        jobs.append((job, .now))
        waiting.record(jobs.count - head)
        condition.signal()
        return true
    }

    /// A thread finished the job it took.
    func finished() {
        condition.lock()
        running -= 1
        inUse.record(running)
        condition.unlock()
    }

    /// The next job, or nil when the queue is closed and empty.
    func next() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed {
            condition.wait()
        }
        guard head < jobs.count else { return nil }
        let job = jobs[head].job
        head += 1
        running += 1
        inUse.record(running)
        waiting.record(jobs.count - head)
        if head > 64 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The loop of the pool's deadline thread: every so often, the work that has waited longer
    /// than `limit` for a connection leaves the queue and fails, without having run. Work a
    /// connection has taken is left to the statement timeout. Ends when the queue is closed.
    func expireWaiting(after limit: Duration) {
        let tick = min(limit / 4, .milliseconds(250)).timeInterval
        while true {
            Thread.sleep(forTimeInterval: tick)
            let oldest = ContinuousClock.now - limit
            condition.lock()
            if closed {
                condition.unlock()
                return
            }
            var expired: [Job] = []
            while head < jobs.count, jobs[head].submitted < oldest {
                expired.append(jobs[head].job)
                head += 1
            }
            if !expired.isEmpty { waiting.record(jobs.count - head) }
            condition.unlock()
            for job in expired { job(.failure(DatabaseError.noConnectionFree(waited: limit))) }
        }
    }
}

/// The loop of one pool thread: it owns its connection and reconnects when it finds it broken.
final class Worker: @unchecked Sendable {
    let url: String
    let searchPath: String?
    let applicationName: String
    let prepareStatements: Bool
    let statementTimeout: Duration?
    let queue: JobQueue
    let logger: Logger
    private var connection: PostgresConnection?

    init(url: String, searchPath: String?, applicationName: String, prepareStatements: Bool, statementTimeout: Duration?, queue: JobQueue, logger: Logger) {
        self.url = url
        self.prepareStatements = prepareStatements
        self.statementTimeout = statementTimeout
        self.searchPath = searchPath
        self.applicationName = applicationName
        self.queue = queue
        self.logger = logger
    }

    func run() {
        while let job = queue.next() {
            job(acquire())
            queue.finished()
        }
        connection = nil
    }

    private func acquire() -> Result<PostgresConnection, any Error> {
        if let connection, connection.isAliveWhileIdle { return .success(connection) }
        do {
            if let connection {
                logger.warning("database connection lost, reconnecting")
                try connection.reconnect()
                return .success(connection)
            }
            let fresh = try PostgresConnection(
                url: url, searchPath: searchPath, applicationName: applicationName, prepareStatements: prepareStatements,
                statementTimeout: statementTimeout)
            connection = fresh
            return .success(fresh)
        } catch {
            return .failure(error)
        }
    }
}
