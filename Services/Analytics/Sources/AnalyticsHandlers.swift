import Contracts
import Database
import Foundation
import ServiceKit

/// The server-side product events, derived from the public event contract alone.
enum AnalyticsHandlers {
    static let all: [EventHandler] = [
        EventHandler(IdentityUserRegisteredV1.self, name: "events.signup") { event, connection in
            try EventStore.derive(.signupCompleted, from: event, user: event.data.userId, at: event.data.registeredAt, on: connection)
        },
        EventHandler(IdentityUserProfileUpdatedV1.self, name: "events.onboarding") { event, connection in
            guard let user = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
            guard event.data.onboardingComplete else { return }
            // Once per user, at the earliest profile that says so, whichever arrives first: the
            // per-user key keeps two replicas handling two such profiles at once from counting it
            // twice, and an earlier profile that comes late takes the place of a later one.
            // (Rows of a previous release were keyed by event; one of those counts already.)
            let key = "onboarding_completed:\(user.uuidString.lowercased())"
            let counted = try !connection.query(
                "SELECT 1 FROM events WHERE user_id = \(user) AND event = 'onboarding_completed' AND source_event_id <> \(key)"
            ).isEmpty
            guard !counted else { return }
            // Two replicas with two profiles of the user: one at a time, so that each sees the
            // other's row.
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext(\(key)))")
            try connection.execute("DELETE FROM events WHERE source_event_id = \(key) AND created_at > \(event.time)")
            try EventStore.derive(.onboardingCompleted, from: event, user: event.data.userId, sourceID: key, on: connection)
        },
        EventHandler(ProgressLessonStartedV1.self, name: "events.lesson_started") { event, connection in
            let properties: [String: JSONValue] = ["lessonId": .string(event.data.lessonId), "moduleId": .string(event.data.moduleId)]
            try EventStore.derive(.lessonStarted, from: event, user: event.data.userId, properties: properties, at: event.data.startedAt, on: connection)
            if event.data.isFree {
                try EventStore.derive(.video1Started, from: event, user: event.data.userId, properties: properties, at: event.data.startedAt, on: connection)
            }
        },
        EventHandler(ProgressLessonCompletedV1.self, name: "events.lesson_completed") { event, connection in
            let properties: [String: JSONValue] = ["lessonId": .string(event.data.lessonId), "moduleId": .string(event.data.moduleId)]
            try EventStore.derive(.lessonCompleted, from: event, user: event.data.userId, properties: properties, at: event.data.completedAt, on: connection)
            if event.data.isFree {
                try EventStore.derive(.video1Completed, from: event, user: event.data.userId, properties: properties, at: event.data.completedAt, on: connection)
            }
        },
        EventHandler(ProgressModuleCompletedV1.self, name: "events.module_completed") { event, connection in
            try EventStore.derive(
                .moduleCompleted, from: event, user: event.data.userId,
                properties: ["moduleId": .string(event.data.moduleId), "firstTime": .bool(event.data.firstTime)], at: event.data.completedAt, on: connection)
        },
        EventHandler(ProgressCourseCompletedV1.self, name: "events.course_completed") { event, connection in
            try EventStore.derive(
                .courseCompleted, from: event, user: event.data.userId, properties: ["firstTime": .bool(event.data.firstTime)], at: event.data.completedAt,
                on: connection)
        },
        EventHandler(BillingSubscriptionActivatedV1.self, name: "events.subscription_started") { event, connection in
            let state = event.data.subscription
            try EventStore.subscription(state, sequence: event.sequenceNumber, at: event.time, on: connection)
            if let user = state.userId {
                try EventStore.derive(.subscriptionStarted, from: event, user: user, properties: plan(state), on: connection)
            }
        },
        EventHandler(BillingSubscriptionUpdatedV1.self, name: "events.subscription_updated") { event, connection in
            try EventStore.subscription(event.data.subscription, sequence: event.sequenceNumber, at: event.time, on: connection)
        },
        EventHandler(BillingSubscriptionCanceledV1.self, name: "events.subscription_cancelled") { event, connection in
            let state = event.data.subscription
            try EventStore.subscription(state, sequence: event.sequenceNumber, at: event.time, on: connection)
            if let user = state.userId {
                try EventStore.derive(.subscriptionCancelled, from: event, user: user, properties: plan(state), on: connection)
            }
        },
        EventHandler(BillingPaymentSucceededV1.self, name: "events.subscription_renewed") { event, connection in
            guard event.data.isRenewal else { return }
            try EventStore.derive(
                .subscriptionRenewed, from: event, user: event.data.userId,
                properties: ["amount": .number(Double(event.data.amount)), "currency": .string(event.data.currency)], at: event.data.paidAt, on: connection)
        },
        EventHandler(BillingPaymentFailedV1.self, name: "events.payment_failed") { event, connection in
            try EventStore.derive(
                .paymentFailed, from: event, user: event.data.userId,
                properties: ["amount": .number(Double(event.data.amount)), "currency": .string(event.data.currency)], on: connection)
        },
        AccessRevocations.handler(),
        Tombstones.handler { userID, connection in
            try EventStore.anonymise(userID, on: connection)
        },
    ]

    static func plan(_ state: SubscriptionState) -> [String: JSONValue] {
        var properties: [String: JSONValue] = ["subscriptionId": .string(state.subscriptionId), "status": .string(state.status.rawValue)]
        if let tier = state.tier { properties["tier"] = .string(tier.rawValue) }
        if let interval = state.interval { properties["interval"] = .string(interval.rawValue) }
        return properties
    }
}
