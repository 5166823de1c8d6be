import Contracts
import Database
import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import Notifications

/// The lifecycle rules against a real Postgres schema, with the clock moved instead of waited
/// for: events are applied as their handlers apply them, then the dispatcher is run "at" a time.
final class LifecycleHarness: @unchecked Sendable {
    let pool: DatabasePool
    let mailDirectory: URL
    let dispatcher: MailDispatcher
    let links = UnsubscribeLinks(secret: "test-secret", baseURL: "http://notifications.test")
    let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    init(pool: DatabasePool, schema: String, transport: (any MailTransport)? = nil) async throws {
        self.pool = pool
        _ = try await Migrator(schema: schema, migrations: NotificationsMigrations.all).migrate(pool, logger: TestEnvironment.logger)
        mailDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-\(UUID().uuidString)")
        dispatcher = MailDispatcher(
            database: pool, listenURL: "", transport: try transport ?? FileMailTransport(directory: mailDirectory.path), renderer: try MailRenderer(),
            from: "Syllabus <hello@syllabus.test>", courseURL: "http://course.test", unsubscribe: links, logger: TestEnvironment.logger)
    }

    static func with(transport: (any MailTransport)? = nil, _ body: (LifecycleHarness) async throws -> Void) async throws {
        try await withTemporarySchema { pool, schema in
            let harness = try await LifecycleHarness(pool: pool, schema: schema, transport: transport)
            defer { try? FileManager.default.removeItem(at: harness.mailDirectory) }
            try await body(harness)
        }
    }

    func at(_ hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }

    func apply(_ body: @escaping @Sendable (PostgresConnection) throws -> Void) async throws {
        try await pool.transaction { try body($0) }
    }

    @discardableResult
    func register(_ user: UUID = UUID(), role: String = "USER", at time: Date? = nil, sequence: Int64 = 1) async throws -> UUID {
        let event = CloudEvent(
            IdentityUserRegisteredV1(
                userId: user.lowercased, email: "\(user.lowercased.prefix(8))@example.com", name: "Learner", role: role, emailVerified: true,
                marketingOptOut: false, registeredAt: time ?? t0),
            sequence: sequence, time: time ?? t0)
        try await apply { try Lifecycle.registered(event, on: $0) }
        return user
    }

    func freeLesson(_ user: UUID, startedAt: Date? = nil, completedAt: Date? = nil) async throws {
        let lesson = UUID().lowercased, module = UUID().lowercased
        if let startedAt {
            let event = CloudEvent(ProgressLessonStartedV1(userId: user.lowercased, lessonId: lesson, moduleId: module, isFree: true, firstTime: true, startedAt: startedAt), sequence: 1, time: startedAt)
            try await apply { try Lifecycle.lessonStarted(event, on: $0) }
        }
        if let completedAt {
            let event = CloudEvent(ProgressLessonCompletedV1(userId: user.lowercased, lessonId: lesson, moduleId: module, isFree: true, completedAt: completedAt), sequence: 2, time: completedAt)
            try await apply { try Lifecycle.lessonCompleted(event, on: $0) }
        }
    }

    func subscription(
        _ user: UUID, id: String = "sub_1", status: String = "ACTIVE", interval: String = "MONTHLY", periodEnd: Date? = nil, cancelAtPeriodEnd: Bool = false,
        sequence: Int64, at time: Date, canceled: Bool = false
    ) async throws {
        let state = SubscriptionState(
            subscriptionId: id, userId: user.lowercased, status: SubscriptionStatus(rawValue: status), tier: .pro,
            interval: BillingInterval(rawValue: interval), amount: interval == "ANNUAL" ? 39900 : 4900,
            currency: "gbp", currentPeriodStart: time, currentPeriodEnd: periodEnd ?? time.addingTimeInterval(30 * 86400),
            cancelAtPeriodEnd: cancelAtPeriodEnd, cancelledAt: canceled ? time : nil, paymentFailedAt: nil)
        try await apply { try Lifecycle.subscription(state, sequence: sequence, at: time, canceled: canceled, on: $0) }
        if !canceled {
            let entitlement = CloudEvent(
                BillingEntitlementChangedV1(userId: user.lowercased, hasAccess: ["ACTIVE", "TRIALING", "PAST_DUE"].contains(status), tier: .pro, reason: "subscription"),
                sequence: sequence, time: time)
            try await apply { connection in
                guard try AggregateVersions.advance("entitlement", id: user.lowercased, to: sequence, on: connection) else { return }
                let entitlement = Entitlements.Entitlement(hasAccess: entitlement.data.hasAccess, tier: entitlement.data.tier.rawValue)
                try connection.execute(
                    "INSERT INTO entitlements (user_id, has_access, tier) VALUES (\(user), \(entitlement.hasAccess), \(entitlement.tier)) ON CONFLICT (user_id) DO UPDATE SET has_access = excluded.has_access")
                try Lifecycle.entitlementChanged(user, entitlement, on: connection)
            }
        }
    }

    func activity(_ user: UUID, at time: Date) async throws {
        try await apply { try Lifecycle.activity(user, at: time, on: $0) }
    }

    /// Runs the dispatcher at `time` until nothing more is due.
    func process(at time: Date) async throws {
        while try await dispatcher.processDue(now: time) > 0 {}
    }

    struct Entry: Equatable, CustomStringConvertible {
        var template: String
        var status: String
        var reason: String?
        var description: String { "\(template) \(status)\(reason.map { " (\($0))" } ?? "")" }
    }

    /// The user's mail, in the order it was scheduled.
    func mail(_ user: UUID) async throws -> [Entry] {
        try await pool.query("SELECT template, status, reason FROM email_queue WHERE user_id = \(user) ORDER BY scheduled_for, template").map {
            Entry(template: try $0.decode("template"), status: try $0.decode("status"), reason: try $0.decode("reason", as: String?.self))
        }
    }

    func status(_ user: UUID, _ template: EmailTemplate) async throws -> Entry? {
        try await mail(user).last { $0.template == template.rawValue }
    }

    func files() throws -> [String] {
        guard FileManager.default.fileExists(atPath: mailDirectory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: mailDirectory.path).filter { $0.hasSuffix(".eml") }.map {
            try String(contentsOf: mailDirectory.appendingPathComponent($0), encoding: .utf8)
        }
    }

    func outbox(_ routingKey: String) async throws -> Int {
        try await pool.query("SELECT count(*) AS n FROM outbox WHERE routing_key = \(routingKey)").first!.decode("n", as: Int.self)
    }
}

@Suite(.serialized) struct LifecycleRuleTests {
    typealias H = LifecycleHarness

    @Test func welcomeGoesOnceEvenIfSignupRepeats() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.register(user, sequence: 2)
            try await h.process(at: h.at(0))
            #expect(try await h.mail(user).filter { $0.template == "WELCOME" } == [.init(template: "WELCOME", status: "SENT")])
            #expect(try h.files().count == 1)
            #expect(try await h.outbox("notifications.email.sent.v1") == 1)
        }
    }

    @Test func startJourneyAfterADayUnlessTheFreeLessonWasStarted() async throws {
        try await H.with { h in
            let idle = try await h.register()
            let eager = try await h.register()
            try await h.freeLesson(eager, startedAt: h.at(2))
            try await h.process(at: h.at(23.9))
            #expect(try await h.status(idle, .startJourney)?.status == "PENDING")
            try await h.process(at: h.at(24))
            #expect(try await h.status(idle, .startJourney) == .init(template: "START_JOURNEY", status: "SENT"))
            #expect(try await h.status(eager, .startJourney) == .init(template: "START_JOURNEY", status: "CANCELLED", reason: "started"))
        }
    }

    @Test func abandonmentSeriesIsTimedFromTheFreeLessonAndStopsOnSubscribing() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.freeLesson(user, startedAt: h.at(1), completedAt: h.at(2))
            try await h.process(at: h.at(2.99))
            #expect(try await h.status(user, .abandonment1)?.status == "PENDING")
            try await h.process(at: h.at(3))
            #expect(try await h.status(user, .abandonment1)?.status == "SENT")
            try await h.subscription(user, sequence: 1, at: h.at(10))
            #expect(try await h.status(user, .abandonment2) == .init(template: "ABANDONMENT_2", status: "CANCELLED", reason: "converted"))
            #expect(try await h.status(user, .abandonment3) == .init(template: "ABANDONMENT_3", status: "CANCELLED", reason: "converted"))
            // A repeated completion does not start the series again.
            try await h.freeLesson(user, completedAt: h.at(20))
            #expect(try await h.mail(user).filter { $0.template.hasPrefix("ABANDONMENT") }.count == 3)
        }
    }

    @Test func conversionMailIsSkippedAtSendTimeForAConvertedLearner() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.freeLesson(user, completedAt: h.at(1))
            // Access arrives without a cancellation (say, an override): the send-time check stops the mail.
            try await h.pool.execute("INSERT INTO entitlements (user_id, has_access, tier) VALUES (\(user), true, 'pro')")
            try await h.process(at: h.at(2))
            #expect(try await h.status(user, .abandonment1) == .init(template: "ABANDONMENT_1", status: "SKIPPED", reason: "converted"))
        }
    }

    @Test func completionMailOnlyTheFirstTime() async throws {
        try await H.with { h in
            let user = try await h.register()
            let module = UUID().lowercased
            for (sequence, firstTime) in [(1, true), (3, false)] {
                let completed = CloudEvent(ProgressModuleCompletedV1(userId: user.lowercased, moduleId: module, firstTime: firstTime, nextModuleId: nil, completedAt: h.at(5)), sequence: Int64(sequence))
                try await h.apply { try Lifecycle.moduleCompleted(completed, on: $0) }
                let course = CloudEvent(ProgressCourseCompletedV1(userId: user.lowercased, firstTime: firstTime, completedAt: h.at(5)), sequence: Int64(sequence + 1))
                try await h.apply { try Lifecycle.courseCompleted(course, on: $0) }
            }
            try await h.process(at: h.at(5))
            #expect(try await h.mail(user).filter { $0.template == "MODULE_COMPLETE" } == [.init(template: "MODULE_COMPLETE", status: "SENT")])
            #expect(try await h.mail(user).filter { $0.template == "COURSE_COMPLETE" } == [.init(template: "COURSE_COMPLETE", status: "SENT")])
        }
    }

    @Test func inactiveNudgeRestartsOnActivityAndGoesOncePerSpell() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.activity(user, at: h.at(72))
            try await h.process(at: h.at(7 * 24 + 1))
            #expect(try await h.mail(user).filter { $0.template == "INACTIVE_NUDGE" }.map(\.status) == ["CANCELLED", "PENDING"])
            try await h.process(at: h.at(72 + 7 * 24))
            #expect(try await h.status(user, .inactiveNudge)?.status == "SENT")
            // An older activity arriving late changes nothing; a new one starts a new spell.
            try await h.activity(user, at: h.at(50))
            try await h.activity(user, at: h.at(300))
            #expect(try await h.mail(user).filter { $0.template == "INACTIVE_NUDGE" }.map(\.status) == ["CANCELLED", "SENT", "PENDING"])
        }
    }

    @Test func renewalReminderForAnnualPlansThatWillRenew() async throws {
        try await H.with { h in
            let annual = try await h.register()
            let end = h.at(24 * 365)
            try await h.subscription(annual, id: "sub_annual", interval: "ANNUAL", periodEnd: end, sequence: 1, at: h.at(0))
            let monthly = try await h.register()
            try await h.subscription(monthly, id: "sub_monthly", sequence: 1, at: h.at(0))
            let leaving = try await h.register()
            try await h.subscription(leaving, id: "sub_leaving", interval: "ANNUAL", periodEnd: end, sequence: 1, at: h.at(0))
            try await h.subscription(leaving, id: "sub_leaving", interval: "ANNUAL", periodEnd: end, cancelAtPeriodEnd: true, sequence: 2, at: h.at(1))
            try await h.process(at: end.addingTimeInterval(-3 * 86400 - 60))
            #expect(try await h.status(annual, .renewalReminder)?.status == "PENDING")
            try await h.process(at: end.addingTimeInterval(-3 * 86400))
            #expect(try await h.status(annual, .renewalReminder)?.status == "SENT")
            #expect(try await h.status(monthly, .renewalReminder) == nil)
            #expect(try await h.status(leaving, .renewalReminder) == .init(template: "RENEWAL_REMINDER", status: "CANCELLED", reason: "not renewing"))
        }
    }

    func paymentFailed(_ h: H, _ user: UUID, at time: Date) async throws {
        let event = CloudEvent(BillingPaymentFailedV1(userId: user.lowercased, subscriptionId: "sub_\(user.lowercased.prefix(6))", invoiceId: "in_1", amount: 4900, currency: "gbp", paymentFailedAt: time), sequence: 1, time: time)
        try await h.apply { try Lifecycle.paymentFailed(event, on: $0) }
        try await h.apply { try Lifecycle.paymentFailed(event, on: $0) }
    }

    @Test func paymentFailedAtOnceAndFinalWarningUnlessPaid() async throws {
        try await H.with { h in
            let paying = try await h.register()
            let lapsing = try await h.register()
            try await paymentFailed(h, paying, at: h.at(1))
            try await paymentFailed(h, lapsing, at: h.at(1))
            try await h.process(at: h.at(1))
            #expect(try await h.status(paying, .paymentFailed)?.status == "SENT")
            #expect(try h.files().contains { $0.contains("Your payment did not go through") && $0.contains("£49.00") })
            let paid = CloudEvent(BillingPaymentSucceededV1(userId: paying.lowercased, subscriptionId: "sub_x", invoiceId: "in_1", amount: 4900, currency: "gbp", isRenewal: false, paidAt: h.at(30)), sequence: 2)
            try await h.apply { try Lifecycle.paymentSucceeded(paid, on: $0) }
            try await h.process(at: h.at(1 + 72))
            #expect(try await h.status(paying, .paymentFailedFinal) == .init(template: "PAYMENT_FAILED_FINAL", status: "CANCELLED", reason: "paid"))
            #expect(try await h.status(lapsing, .paymentFailedFinal)?.status == "SENT")
            #expect(try await h.mail(lapsing).filter { $0.template == "PAYMENT_FAILED" }.count == 1, "a repeated event queues nothing twice")
        }
    }

    @Test func subscriptionCancelledOnceAndNoMoreRenewalOrPaymentMail() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.subscription(user, id: "sub_c", interval: "ANNUAL", periodEnd: h.at(24 * 365), sequence: 1, at: h.at(0))
            try await h.subscription(user, id: "sub_c", status: "CANCELED", interval: "ANNUAL", sequence: 2, at: h.at(5), canceled: true)
            try await h.subscription(user, id: "sub_c", status: "CANCELED", interval: "ANNUAL", sequence: 2, at: h.at(5), canceled: true)
            try await h.process(at: h.at(5))
            #expect(try await h.mail(user).filter { $0.template == "SUBSCRIPTION_CANCELLED" } == [.init(template: "SUBSCRIPTION_CANCELLED", status: "SENT")])
            #expect(try await h.status(user, .renewalReminder)?.status == "CANCELLED")
        }
    }

    @Test func videoFailedGoesToEveryAdmin() async throws {
        try await H.with { h in
            let admins = [try await h.register(role: "ADMIN"), try await h.register(role: "ADMIN")]
            let learner = try await h.register()
            let event = CloudEvent(ContentVideoFailedV1(lessonId: UUID().lowercased, lessonTitle: "Welcome", assetId: nil, message: "not a video", failedAt: h.at(1)), sequence: 1, time: h.at(1))
            try await h.apply { try Lifecycle.videoFailed(event, on: $0) }
            try await h.apply { try Lifecycle.videoFailed(event, on: $0) }
            try await h.process(at: h.at(1))
            for admin in admins { #expect(try await h.status(admin, .videoFailed)?.status == "SENT") }
            #expect(try await h.status(learner, .videoFailed) == nil)
            #expect(try h.files().filter { $0.contains("not a video") }.count == 2)
        }
    }

    @Test func marketingMailCarriesOneClickUnsubscribeAndTheOptOutStopsIt() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.process(at: h.at(24))
            let journey = try #require(try h.files().first { $0.contains("first lesson is waiting") })
            let link = h.links.url(for: user)
            #expect(journey.contains("List-Unsubscribe: <\(link)>\r\n"))
            #expect(journey.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
            #expect(!(try h.files().first { $0.contains("Welcome") } ?? "").contains("List-Unsubscribe"), "transactional mail has none")
            try await h.apply { try Consent.optOut(user, now: h.at(25), on: $0) }
            try await h.apply { try Consent.optOut(user, now: h.at(25), on: $0) }
            #expect(try await h.outbox("notifications.consent.changed.v1") == 1)
            try await paymentFailed(h, user, at: h.at(26))
            try await h.process(at: h.at(7 * 24 + 1))
            #expect(try await h.status(user, .inactiveNudge) == .init(template: "INACTIVE_NUDGE", status: "SKIPPED", reason: "opted out"))
            #expect(try await h.status(user, .paymentFailed)?.status == "SENT", "transactional mail still goes")
        }
    }

    @Test func deletedUsersAndLongOverdueMailAreSkipped() async throws {
        try await H.with { h in
            let gone = try await h.register()
            try await h.pool.execute("UPDATE recipients SET deleted_at = now() WHERE user_id = \(gone)")
            try await h.process(at: h.at(1))
            #expect(try await h.status(gone, .welcome) == .init(template: "WELCOME", status: "SKIPPED", reason: "deleted"))
            let late = try await h.register()
            try await h.process(at: h.at(24 * 8))
            #expect(try await h.status(late, .welcome) == .init(template: "WELCOME", status: "SKIPPED", reason: "expired"))
            #expect(try await h.status(late, .startJourney)?.status == "SENT", "seven days late, not more")
        }
    }

    @Test func aLearnersJourneyFromSignupToSubscription() async throws {
        try await H.with { h in
            let user = try await h.register()
            try await h.process(at: h.at(0))
            try await h.freeLesson(user, startedAt: h.at(30), completedAt: h.at(31))
            try await h.process(at: h.at(31 + 25))
            try await h.subscription(user, sequence: 1, at: h.at(31 + 48))
            try await h.process(at: h.at(31 + 24 * 8))
            #expect(try await h.mail(user).map(\.description) == [
                "WELCOME SENT",
                "START_JOURNEY CANCELLED (started)",
                "ABANDONMENT_1 SENT",
                "ABANDONMENT_2 SENT",
                "ABANDONMENT_3 CANCELLED (converted)",
                "INACTIVE_NUDGE CANCELLED (active)",
                "INACTIVE_NUDGE CANCELLED (active)",
                "INACTIVE_NUDGE SENT",
            ])
        }
    }
}

/// A transport that fails a number of times, then delivers.
final class FlakyTransport: MailTransport, @unchecked Sendable {
    let lock = NSLock()
    var failuresLeft: Int
    var delivered: [UUID] = []
    var name: String { "file" }
    init(failures: Int) { failuresLeft = failures }
    func send(_ mail: OutgoingMail) throws {
        try lock.withLock {
            if failuresLeft > 0 {
                failuresLeft -= 1
                throw MailError.transport("connection refused")
            }
            delivered.append(mail.id)
        }
    }
}

@Suite(.serialized) struct DispatcherTests {
    @Test func transportFailuresBackOffThenFail() async throws {
        let transport = FlakyTransport(failures: 100)
        try await LifecycleHarness.with(transport: transport) { h in
            let user = try await h.register()
            var now = h.at(0)
            for attempt in 1...MailDispatcher.maximumAttempts {
                try await h.process(at: now)
                now = now.addingTimeInterval(MailDispatcher.backoff(afterAttempt: attempt))
            }
            #expect(try await h.status(user, .welcome) == .init(template: "WELCOME", status: "FAILED", reason: "mail transport failed: connection refused"))
            let attempts = try await h.pool.query("SELECT count(*) AS n FROM email_log WHERE user_id = \(user) AND template = 'WELCOME'").first!.decode("n", as: Int.self)
            #expect(attempts == MailDispatcher.maximumAttempts)
            #expect(try await h.outbox("notifications.email.failed.v1") == 1)
        }
    }

    @Test func twoReplicasSendEachMailOnce() async throws {
        let transport = FlakyTransport(failures: 0)
        try await LifecycleHarness.with(transport: transport) { h in
            for _ in 0..<120 { try await h.register() }
            let other = MailDispatcher(
                database: h.pool, listenURL: "", transport: transport, renderer: try MailRenderer(), from: "x@y.z", courseURL: "http://c",
                unsubscribe: h.links, batchSize: 7, logger: TestEnvironment.logger)
            let first = h.dispatcher
            let now = h.at(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { while try await first.processDue(now: now) > 0 {} }
                group.addTask { while try await other.processDue(now: now) > 0 {} }
                try await group.waitForAll()
            }
            #expect(transport.delivered.count == 120)
            #expect(Set(transport.delivered).count == 120, "each mail once")
            let sent = try await h.pool.query("SELECT count(*) AS n FROM email_queue WHERE status = 'SENT'").first!.decode("n", as: Int.self)
            #expect(sent == 120)
        }
    }
}
