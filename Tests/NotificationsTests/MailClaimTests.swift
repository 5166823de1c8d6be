import Contracts
import Database
import Foundation
import Logging
import ServiceKit
import Testing
import TestSupport

@testable import Notifications

/// A session of its own, to look at (or change) the database while the dispatcher is sending.
final class Observer: @unchecked Sendable {
    private let lock = NSLock()
    private let connection: PostgresConnection

    init(schema: String) throws {
        connection = try PostgresConnection(url: try TestEnvironment.value("ADMIN_DATABASE_URL"), searchPath: schema, applicationName: "mail-observer")
    }

    func run<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try lock.withLock { try body(connection) }
    }
}

/// A value shared between the test and the threads a transport is called on.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&value) }
    }
}

/// A transport that keeps every mail it is handed and runs `during` while "on the wire".
final class RecordingTransport: MailTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var mails: [OutgoingMail] = []
    var during: @Sendable (OutgoingMail, Int) throws -> Void
    var name: String { "file" }

    init(during: @escaping @Sendable (OutgoingMail, Int) throws -> Void = { _, _ in }) {
        self.during = during
    }

    var sent: [OutgoingMail] { lock.withLock { mails } }

    func send(_ mail: OutgoingMail) throws {
        let index = lock.withLock {
            mails.append(mail)
            return mails.count
        }
        try during(mail, index)
    }
}

/// The dispatcher claims, sends with no transaction open, then records — against a real Postgres.
@Suite(.serialized) struct MailClaimTests {
    typealias H = LifecycleHarness

    static func dispatcher(
        _ h: H, pool: DatabasePool? = nil, transport: any MailTransport, claimLease: TimeInterval = MailDispatcher.claimLease, logger: Logger = TestEnvironment.logger
    ) throws -> MailDispatcher {
        MailDispatcher(
            database: pool ?? h.pool, listenURL: "", transport: transport, renderer: try MailRenderer(), from: "Syllabus <hello@syllabus.test>",
            courseURL: "http://course.test", unsubscribe: h.links, claimLease: claimLease, logger: logger)
    }

    /// A pool of the test schema with a name of its own, as another process's would be.
    static func pool(_ schema: String, name: String, size: Int = 2) throws -> DatabasePool {
        DatabasePool(url: try TestEnvironment.value("ADMIN_DATABASE_URL"), size: size, searchPath: schema, name: name, logger: TestEnvironment.logger)
    }

    struct Queued {
        var status: String
        var attempts: Int
        var claimed: Bool
        var data: String
    }

    static func entry(_ h: H, _ id: UUID) async throws -> Queued {
        let row = try await h.pool.query("SELECT status, attempts, claimed_by, data::text AS data FROM email_queue WHERE id = \(id)").first!
        return Queued(
            status: try row.decode("status"), attempts: try row.decode("attempts"), claimed: try row.decode("claimed_by", as: UUID?.self) != nil,
            data: try row.decode("data"))
    }

    static func logged(_ h: H, _ id: UUID, _ status: String) async throws -> Int {
        try await h.pool.query("SELECT count(*) AS n FROM email_log WHERE queue_id = \(id) AND status = \(status)").first!.decode("n", as: Int.self)
    }

    @Test func noTransactionIsOpenWhileTheTransportSends() async throws {
        try await withTemporarySchema { pool, schema in
            let h = try await H(pool: pool, schema: schema)
            let observer = try Observer(schema: schema)
            let name = "mail-\(UUID().uuidString.prefix(8).lowercased())"
            let dispatcherPool = try Self.pool(schema, name: name)
            defer { dispatcherPool.shutdown() }
            struct Seen: Sendable { var openTransactions: Int, sessions: String, claimedAndPending: Bool, lockable: Bool }
            let seen = Locked<[UUID: Seen]>([:])
            let transport = RecordingTransport { mail, _ in
                let look = try observer.run { connection in
                    // A transaction held across the send is a session of the dispatcher's idle
                    // inside it ('idle in transaction'): its code is waiting for the transport.
                    let sessions = try connection.query(
                        "SELECT state, xact_start IS NOT NULL AS in_transaction, left(query, 80) AS query FROM pg_stat_activity WHERE application_name = \(name)")
                    let open = try sessions.filter { try $0.decode("state", as: String?.self)?.hasPrefix("idle in transaction") == true }.count
                    let described = try sessions.map {
                        "\(try $0.decode("state", as: String?.self) ?? "?")\(try $0.decode("in_transaction", as: Bool.self) ? " (in a transaction)" : ""): \(try $0.decode("query", as: String?.self) ?? "")"
                    }.joined(separator: "; ")
                    let row = try connection.query("SELECT status, claimed_by FROM email_queue WHERE id = \(mail.id)").first!
                    let claimed = try row.decode("status", as: String.self) == "PENDING" && row.decode("claimed_by", as: UUID?.self) != nil
                    // Nobody holds a lock on the row while it is being sent.
                    let lockable = try connection.transaction { (try? $0.query("SELECT id FROM email_queue WHERE id = \(mail.id) FOR UPDATE NOWAIT")) != nil }
                    return Seen(openTransactions: open, sessions: described, claimedAndPending: claimed, lockable: lockable)
                }
                seen.withLock { $0[mail.id] = look }
            }
            let dispatcher = try Self.dispatcher(h, pool: dispatcherPool, transport: transport)

            let user = try await h.register()
            try await h.apply { connection in
                try EmailQueue.enqueue(
                    userID: user, template: .verifyEmail, dedupeKey: "VERIFY_EMAIL:\(UUID())", scheduledFor: h.at(0),
                    data: ["to": "new@example.com", "verificationUrl": "http://verify.test/secret", "expiresAt": "2030-01-01T00:00:00Z"], on: connection)
            }
            while try await dispatcher.processDue(now: h.at(24)) > 0 {}

            // WELCOME, VERIFY_EMAIL and START_JOURNEY, each seen from outside while on the wire.
            #expect(transport.sent.count == 3)
            for mail in transport.sent {
                let look = try #require(seen.withLock { $0[mail.id] })
                #expect(look.openTransactions == 0, "the dispatcher's sessions hold no transaction while \(mail) is sent: \(look.sessions)")
                #expect(look.claimedAndPending, "the claim is committed before \(mail) is sent")
                #expect(look.lockable, "no row lock is held while \(mail) is sent")
            }
            #expect(try await h.mail(user).map(\.description) == ["VERIFY_EMAIL SENT", "WELCOME SENT", "START_JOURNEY SENT", "INACTIVE_NUDGE PENDING"])
            #expect(try await h.outbox("notifications.email.sent.v1") == 3)
            let verification = try #require(transport.sent.first { $0.to == "new@example.com" })
            #expect(verification.content.text.contains("http://verify.test/secret"))
            #expect(!(try await Self.entry(h, verification.id).data.contains("verificationUrl")), "a settled mail keeps no link")
            let journey = try #require(transport.sent.first { $0.content.subject.contains("first lesson") })
            #expect(journey.headers.contains { $0 == ("List-Unsubscribe", "<\(h.links.url(for: user))>") })
            #expect(journey.headers.contains { $0 == ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click") })
            for mail in transport.sent {
                let entry = try await Self.entry(h, mail.id)
                #expect(entry.attempts == 1 && !entry.claimed)
                #expect(try await Self.logged(h, mail.id, "SENT") == 1)
            }
        }
    }

    @Test func aCrashBetweenSendingAndRecordingSendsAgainWithTheSameMessageIDOnce() async throws {
        try await withTemporarySchema { pool, schema in
            let h = try await H(pool: pool, schema: schema)
            let user = try await h.register()
            // The first process loses its database right after the mail left: it dies before recording.
            let doomed = try Self.pool(schema, name: "mail-doomed", size: 1)
            let transport = RecordingTransport { _, index in
                if index == 1 { doomed.shutdown() }
            }
            let first = try Self.dispatcher(h, pool: doomed, transport: transport)
            await #expect(throws: DatabaseError.self) { try await first.processDue(now: h.at(0)) }
            let mail = try #require(transport.sent.first)
            var entry = try await Self.entry(h, mail.id)
            #expect(entry.status == "PENDING" && entry.claimed && entry.attempts == 1, "claimed and counted, nothing recorded")
            #expect(try await Self.logged(h, mail.id, "SENT") == 0)
            #expect(try await h.outbox("notifications.email.sent.v1") == 0)

            // While the lease runs, nobody else takes it.
            let restarted = try Self.dispatcher(h, transport: transport)
            #expect(try await restarted.processDue(now: h.at(0)) == 0)
            #expect(transport.sent.count == 1)

            // The lease lapses (two minutes later): the mail goes again, as the same message, and is recorded once.
            try await h.pool.execute("UPDATE email_queue SET claimed_until = claimed_until - interval '1 hour' WHERE id = \(mail.id)")
            while try await restarted.processDue(now: h.at(0)) > 0 {}
            #expect(transport.sent.map(\.id) == [mail.id, mail.id])
            #expect(transport.sent.map(\.messageID) == [mail.messageID, mail.messageID])
            let headers = transport.sent.map { RFC5322.message($0).components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } }
            #expect(headers == Array(repeating: "Message-ID: <\(mail.id.uuidString.lowercased())@syllabus.mail>", count: 2))
            entry = try await Self.entry(h, mail.id)
            #expect(entry.status == "SENT" && !entry.claimed && entry.attempts == 2)
            #expect(try await Self.logged(h, mail.id, "SENT") == 1)
            #expect(try await h.outbox("notifications.email.sent.v1") == 1)
            #expect(try await h.status(user, .welcome) == .init(template: "WELCOME", status: "SENT"))

            // And nothing goes a third time.
            #expect(try await restarted.processDue(now: h.at(0)) == 0)
            #expect(transport.sent.count == 2)
        }
    }

    @Test func aWorkerWhoseLeaseLapsedWhileSendingLeavesTheRecordToTheOneThatTookOver() async throws {
        try await withTemporarySchema { pool, schema in
            let h = try await H(pool: pool, schema: schema)
            let user = try await h.register()
            let box = Locked<MailDispatcher?>(nil)
            // The first send stalls past its lease; meanwhile another replica takes the mail over.
            let transport = RecordingTransport { mail, index in
                guard index == 1, let other = box.withLock({ $0 }) else { return }
                let done = DispatchSemaphore(value: 0)
                let taken = Locked<Int>(-1)
                Task {
                    try await pool.execute("UPDATE email_queue SET claimed_until = clock_timestamp() - interval '1 second' WHERE id = \(mail.id)")
                    let count = try await other.processDue(now: Date(timeIntervalSince1970: 1_900_000_000))
                    taken.withLock { $0 = count }
                    done.signal()
                }
                done.wait()
                guard taken.withLock({ $0 }) == 1 else { throw MailError.transport("the other replica did not take the mail over") }
            }
            box.withLock { $0 = try? Self.dispatcher(h, transport: transport) }
            let stalled = try Self.dispatcher(h, transport: transport)
            #expect(try await stalled.processDue(now: h.at(0)) == 1)
            let mail = try #require(transport.sent.first)
            #expect(transport.sent.map(\.messageID) == [mail.messageID, mail.messageID])
            let entry = try await Self.entry(h, mail.id)
            #expect(entry.status == "SENT" && !entry.claimed && entry.attempts == 2)
            #expect(try await h.outbox("notifications.email.sent.v1") == 1, "one SENT event")
            #expect(try await Self.logged(h, mail.id, "SENT") == 2, "both sends are in the log")
            #expect(try await h.status(user, .welcome)?.status == "SENT")
        }
    }

    @Test func mailCancelledAfterItWasClaimedIsNotSentButOneAlreadyOnTheWireIsRecordedSent() async throws {
        try await withTemporarySchema { pool, schema in
            let h = try await H(pool: pool, schema: schema)
            let observer = try Observer(schema: schema)
            try await h.register()
            try await h.register()
            // While the first WELCOME is on the wire, both users are deleted (their pending mail cancelled).
            let transport = RecordingTransport { _, index in
                guard index == 1 else { return }
                try observer.run { connection in
                    try connection.execute("UPDATE email_queue SET status = 'CANCELLED', reason = 'deleted', processed_at = now() WHERE status = 'PENDING'")
                }
            }
            let dispatcher = try Self.dispatcher(h, transport: transport)
            #expect(try await dispatcher.processDue(now: h.at(0)) == 2, "both claimed in one batch")
            #expect(transport.sent.count == 1)
            let sent = try #require(transport.sent.first)
            let other = try #require(try await h.pool.query("SELECT id FROM email_queue WHERE template = 'WELCOME' AND id <> \(sent.id)").first?.decode("id", as: UUID.self))
            let onTheWire = try await Self.entry(h, sent.id)
            #expect(onTheWire.status == "SENT" && !onTheWire.claimed, "it went: the record says so")
            let cancelled = try await Self.entry(h, other)
            #expect(cancelled.status == "CANCELLED" && !cancelled.claimed && cancelled.attempts == 0, "never attempted, claim let go")
            #expect(try await h.outbox("notifications.email.sent.v1") == 1)
        }
    }

    @Test func transportErrorsStillBackOffThenFailWithTheClaimReleasedEachTime() async throws {
        let transport = FlakyTransport(failures: 100)
        try await H.with(transport: transport) { h in
            let user = try await h.register()
            var now = h.at(0)
            for attempt in 1...MailDispatcher.maximumAttempts {
                try await h.process(at: now)
                let entry = try #require(try await h.pool.query("SELECT id FROM email_queue WHERE user_id = \(user) AND template = 'WELCOME'").first)
                let queued = try await Self.entry(h, try entry.decode("id", as: UUID.self))
                #expect(queued.attempts == attempt && !queued.claimed)
                #expect(queued.status == (attempt < MailDispatcher.maximumAttempts ? "PENDING" : "FAILED"))
                now = now.addingTimeInterval(MailDispatcher.backoff(afterAttempt: attempt))
            }
            #expect(try await h.outbox("notifications.email.failed.v1") == 1)
        }
    }

    @Test func theUnsubscribeTokenIsNeverLogged() async throws {
        let records = Locked<[String]>([])
        var logger = Logger(label: "capture") { _ in CapturingLogHandler(records: records) }
        logger.logLevel = .trace
        let transport = FlakyTransport(failures: 1)
        try await withTemporarySchema { pool, schema in
            let h = try await H(pool: pool, schema: schema)
            let user = try await h.register()
            let dispatcher = try Self.dispatcher(h, transport: transport, logger: logger)
            // START_JOURNEY, a marketing mail: once failed, once sent.
            try await h.pool.execute("UPDATE email_queue SET status = 'CANCELLED' WHERE template <> 'START_JOURNEY'")
            while try await dispatcher.processDue(now: h.at(24)) > 0 {}
            while try await dispatcher.processDue(now: h.at(25)) > 0 {}
            #expect(try await h.status(user, .startJourney)?.status == "SENT")
            let token = h.links.token(for: user)
            #expect(!records.withLock { $0 }.isEmpty)
            #expect(!records.withLock { $0 }.contains { $0.contains(token) })
            let mail = OutgoingMail(
                id: UUID(), from: "a@b.c", to: "d@e.f", toName: "D", date: Date(), content: RenderedMail(subject: "s", text: h.links.url(for: user), html: ""),
                headers: [("List-Unsubscribe", "<\(h.links.url(for: user))>")])
            #expect(!"\(mail)".contains(token) && !String(reflecting: mail).contains(token))
            #expect(!"\(h.links)".contains("test-secret"))
        }
    }
}

/// Keeps every log line, with its metadata, as text.
struct CapturingLogHandler: LogHandler {
    let records: Locked<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        records.withLock { $0.append("\(event.message) \(all) \(event.error.map { "\($0)" } ?? "")") }
    }
}
