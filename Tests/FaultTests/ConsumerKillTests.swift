import Contracts
import Database
import Foundation
import MessageBus
import Testing
import TestSupport

/// A service process killed with SIGKILL while it handles a stream of events: what it had not
/// acknowledged is redelivered to the next process, and applied once.
extension FaultTests {
    struct ConsumerKillTests {}
}

extension FaultTests.ConsumerKillTests {
    func startNotifications(mailDirectory: URL, log: URL) throws -> Process {
        var environment = try fault.values()
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        environment["MAIL_DIR"] = mailDirectory.path
        environment["NOTIFICATIONS_HTTP_PORT"] = "9385"
        // The mail the killed process had claimed goes out again once its lease lapses: short
        // here, so that the test's wait for every welcome mail covers it.
        environment["NOTIFICATIONS_MAIL_CLAIM_LEASE_SECONDS"] = "5"
        let process = Process()
        process.executableURL = try TestEnvironment.binaryDirectory().appendingPathComponent("notifications")
        process.environment = environment
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    @Test func killedMidHandlingEveryEventIsAppliedOnce() async throws {
        let marker = "kill\(UUID().uuidString.prefix(8).lowercased())"
        let total = 2000
        let directory = URL(fileURLWithPath: try fault.value("SYLLABUS_STACK_DIR")).appendingPathComponent(marker)
        let mail = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("notifications.log")

        let publisher = try AMQPPublisher(url: try fault.value("ADMIN_AMQP_URL"), name: "fault", logger: faultLogger)
        defer { publisher.shutdown() }
        let events = (0..<total).map { n in
            CloudEvent(IdentityUserRegisteredV1(
                userId: UUIDv7.make().lowercased, email: "\(marker).\(n)@example.com", name: "Learner \(n)", role: "USER",
                emailVerified: false, marketingOptOut: false, registeredAt: Date()), sequence: 1)
        }
        let outcomes = try await publisher.publish(try events.map { event in
            OutgoingMessage(
                exchange: "identity.events", routingKey: IdentityUserRegisteredV1.eventType.routingKey, body: try EventCoding.encode(event),
                properties: AMQPProperties(contentType: "application/cloudevents+json", messageID: event.id))
        })
        #expect(outcomes.allSatisfy { $0 == .confirmed })

        let database = DatabasePool(url: try fault.value("ADMIN_DATABASE_URL"), size: 1, logger: faultLogger)
        defer { database.shutdown() }
        func count(_ sql: String) async throws -> Int {
            try await database.query(Query(sql: sql, binds: ["\(marker).%"])).first?.decode("c", as: Int.self) ?? 0
        }
        let recipients = "SELECT count(*) AS c FROM notifications.recipients WHERE email LIKE $1::text"

        let first = try startNotifications(mailDirectory: mail, log: log)
        try await eventually(timeout: .seconds(60), "the first process to be part-way through") { try await count(recipients) >= 100 }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let beforeKill = try await count(recipients)

        let second = try startNotifications(mailDirectory: mail, log: log)
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        try await eventually(timeout: .seconds(90), "every event applied") { try await count(recipients) == total }
        // Two thousand mails, each claimed, checked, written and recorded: on a machine busy with
        // the other suites that takes a while.
        try await eventually(timeout: .seconds(120), "every welcome mail sent") {
            try await count("SELECT count(*) AS c FROM notifications.email_queue q JOIN notifications.recipients r USING (user_id) WHERE r.email LIKE $1::text AND q.status = 'SENT' AND q.template = 'WELCOME'") == total
        }
        let queued = try await count("SELECT count(*) AS c FROM notifications.email_queue q JOIN notifications.recipients r USING (user_id) WHERE r.email LIKE $1::text AND q.template = 'WELCOME'")
        // This test's recipients only: mail another run left claimed on this stack may land here too.
        let files = try FileManager.default.contentsOfDirectory(atPath: mail.path).filter { $0.hasSuffix(".eml") }
            .filter { (try? String(contentsOf: mail.appendingPathComponent($0), encoding: .utf8))?.contains("\(marker).") == true }
        print("consumer killed mid-stream: \(beforeKill) of \(total) applied before SIGKILL; after restart \(try await count(recipients)) recipients, \(queued) welcome mails queued, \(files.count) sent")
        #expect(beforeKill < total, "killed in the middle")
        #expect(queued == total, "each event applied once: one welcome mail per user")
        #expect(files.count == total)
        #expect(!String(decoding: try Data(contentsOf: log), as: UTF8.self).contains("dead-lettered"))
    }
}
