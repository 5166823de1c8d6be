import Contracts
import Database
import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import Notifications

/// A user's identity events may reach notifications in any order and more than once: two
/// replicas consume one queue, and a retried event is overtaken by the next. Whatever the order,
/// the recipient ends as the events in order leave it.
@Suite struct RecipientOrderTests {
    struct Recipient: Equatable, CustomStringConvertible {
        var email: String, name: String, role: String, optOut: Bool, registeredAt: Date, lastActivity: Date?
        var description: String { "\(email) \(name) \(role) optOut=\(optOut) registered=\(registeredAt) active=\(lastActivity.map { "\($0)" } ?? "-")" }
    }

    /// One user's life at identity: registered, signed in, opted out of marketing mail, made an
    /// admin, changed their email, made a learner again.
    func history(_ user: UUID, t0: Date) -> [(name: String, apply: @Sendable (PostgresConnection) throws -> Void)] {
        let id = user.lowercased
        func profile(email: String, name: String, optOut: Bool, sequence: Int64, at time: Date) -> CloudEvent<IdentityUserProfileUpdatedV1> {
            CloudEvent(
                IdentityUserProfileUpdatedV1(
                    userId: id, email: email, name: name, emailVerified: true, marketingOptOut: optOut, onboardingComplete: true, timeZone: nil,
                    userType: nil, buildGoal: nil, experienceLevel: nil, skillLevel: nil, learningStyle: nil, weeklyHours: nil, updatedAt: time),
                sequence: sequence, time: time)
        }
        func role(_ role: String, previous: String, sequence: Int64, at time: Date) -> CloudEvent<IdentityUserRoleChangedV1> {
            CloudEvent(IdentityUserRoleChangedV1(userId: id, role: role, previousRole: previous, changedBy: "admin", changedAt: time), sequence: sequence, time: time)
        }
        let registered = CloudEvent(
            IdentityUserRegisteredV1(
                userId: id, email: "\(id.prefix(8))-a@example.com", name: "Ada", role: "USER", emailVerified: false, marketingOptOut: false,
                registeredAt: t0),
            sequence: 1, time: t0)
        let loggedIn = CloudEvent(IdentityUserLoggedInV1(userId: id, method: "password", provider: nil, loggedInAt: t0 + 60), sequence: 2, time: t0 + 60)
        let optedOut = profile(email: "\(id.prefix(8))-a@example.com", name: "Ada L.", optOut: true, sequence: 3, at: t0 + 120)
        let promoted = role("ADMIN", previous: "USER", sequence: 4, at: t0 + 180)
        let moved = profile(email: "\(id.prefix(8))-b@example.com", name: "Ada L.", optOut: true, sequence: 5, at: t0 + 240)
        let demoted = role("USER", previous: "ADMIN", sequence: 6, at: t0 + 300)
        return [
            ("registered", { try Lifecycle.registered(registered, on: $0) }),
            ("logged in", { try Lifecycle.activity(user, at: loggedIn.data.loggedInAt, on: $0) }),
            ("opted out", { try Lifecycle.profileUpdated(optedOut, on: $0) }),
            ("promoted", { try Lifecycle.roleChanged(promoted, on: $0) }),
            ("moved", { try Lifecycle.profileUpdated(moved, on: $0) }),
            ("demoted", { try Lifecycle.roleChanged(demoted, on: $0) }),
        ]
    }

    func recipient(_ user: UUID, _ pool: DatabasePool) async throws -> Recipient {
        let row = try #require(try await pool.query("SELECT * FROM recipients WHERE user_id = \(user)").first)
        return Recipient(
            email: try row.decode("email"), name: try row.decode("name"), role: try row.decode("role"), optOut: try row.decode("marketing_opt_out"),
            registeredAt: try row.decode("registered_at"), lastActivity: try row.decode("last_activity_at", as: Date?.self))
    }

    @Test func everyOrderWithDuplicatesEndsAsTheEventsInOrder() async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: NotificationsMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            let t0 = Date(timeIntervalSince1970: 1_900_000_000)
            let reference = UUID()
            for step in history(reference, t0: t0) { try await pool.transaction { try step.apply($0) } }
            let expected = try await recipient(reference, pool)
            #expect(expected.role == "USER" && expected.optOut && expected.name == "Ada L." && expected.email.hasSuffix("-b@example.com"))

            var generator = SeededGenerator(seed: 0x5EED)
            for _ in 0..<60 {
                let user = UUID()
                var deliveries = history(user, t0: t0)
                // Each event once or twice, in any order.
                deliveries += deliveries.filter { _ in Bool.random(using: &generator) }
                deliveries.shuffle(using: &generator)
                for step in deliveries { try await pool.transaction { try step.apply($0) } }
                var got = try await recipient(user, pool)
                got.email = got.email.replacingOccurrences(of: user.lowercased.prefix(8), with: reference.lowercased.prefix(8))
                #expect(got == expected, "order: \(deliveries.map(\.name).joined(separator: ", "))")
            }
        }
    }
}

/// A deterministic generator, so that a failing order can be run again.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
