import Contracts
import Foundation

/// What the producers publish over two learners' lives, each aggregate's events with the sequence
/// its producer gives them: Ada registers, onboards, is made an admin and back, opts out and in,
/// changes her email, subscribes, fails a payment and recovers, cancels, works through the
/// course and a learning plan; Bob registers, subscribes, starts a lesson and deletes his account,
/// after which billing withdraws his access. Every service's handlers are fed these.
///
/// Left out are the alerts to admins (a failed video, a disabled webhook endpoint): who is an
/// admin is read when the alert arrives, a moment no ordering of the bus could fix, since the
/// role and the alert are different aggregates from different producers.
public struct PlatformHistories: Sendable {
    public let ada: UUID
    public let bob: UUID
    public let t0: Date
    public let modules: (first: UUID, second: UUID)
    public let lessons: [UUID]
    public let plans: (kept: UUID, deleted: UUID)
    /// Each aggregate's events in the order they were produced.
    public let histories: [[Delivery]]

    public init(t0: Date = Date(timeIntervalSince1970: 1_900_000_000)) throws {
        let ada = UUID(), bob = UUID()
        let modules = (first: UUID(), second: UUID())
        let lessons = [UUID(), UUID(), UUID(), UUID()]
        let plans = (kept: UUID(), deleted: UUID())
        self.ada = ada
        self.bob = bob
        self.t0 = t0
        self.modules = modules
        self.lessons = lessons
        self.plans = plans
        let admin = UUID().lowercased

        func at(_ seconds: Double) -> Date { t0 + seconds }
        func event<E: DomainEvent>(_ name: String, _ data: E, _ sequence: Int64, _ time: Double) throws -> Delivery {
            try Delivery(name, CloudEvent(data, sequence: sequence, time: at(time)))
        }

        // Identity: one sequence per user; a sign-in and a mail link carry the user's current one.
        let a = ada.lowercased, b = bob.lowercased
        func profile(_ user: String, email: String, name: String, optOut: Bool, timeZone: String, _ time: Double) -> IdentityUserProfileUpdatedV1 {
            IdentityUserProfileUpdatedV1(
                userId: user, email: email, name: name, emailVerified: true, marketingOptOut: optOut, onboardingComplete: true, timeZone: timeZone,
                userType: "SOLO_BUILDER", buildGoal: "A budgeting app", experienceLevel: "BEGINNER", skillLevel: "beginner", learningStyle: "practice",
                weeklyHours: 6, updatedAt: at(time))
        }
        let identityAda = [
            try event("ada registered", IdentityUserRegisteredV1(userId: a, email: "ada@example.com", name: "Ada", role: "USER", emailVerified: false, marketingOptOut: false, registeredAt: at(0)), 1, 0),
            try event("ada verification link", IdentityEmailVerificationLinkV1(userId: a, email: "ada@example.com", name: "Ada", verificationUrl: "https://app.example/verify?token=v", expiresAt: at(86_400)), 1, 1),
            try event("ada signed in", IdentityUserLoggedInV1(userId: a, method: "password", provider: nil, loggedInAt: at(60)), 1, 60),
            try event("ada onboarded", profile(a, email: "ada@example.com", name: "Ada", optOut: false, timeZone: "Europe/London", 120), 2, 120),
            try event("ada given access", IdentityUserAccessOverrideChangedV1(userId: a, accessOverride: true, changedBy: admin, changedAt: at(180)), 3, 180),
            try event("ada promoted", IdentityUserRoleChangedV1(userId: a, role: "ADMIN", previousRole: "USER", changedBy: admin, changedAt: at(240)), 4, 240),
            try event("ada opted out, moved", profile(a, email: "ada@analytical.example", name: "Ada L.", optOut: true, timeZone: "America/New_York", 300), 5, 300),
            try event("ada reset link", IdentityPasswordResetLinkV1(userId: a, email: "ada@analytical.example", name: "Ada L.", resetUrl: "https://app.example/reset?token=r", expiresAt: at(3_900)), 5, 310),
            try event("ada demoted", IdentityUserRoleChangedV1(userId: a, role: "USER", previousRole: "ADMIN", changedBy: admin, changedAt: at(360)), 6, 360),
            try event("ada access withdrawn", IdentityUserAccessOverrideChangedV1(userId: a, accessOverride: false, changedBy: admin, changedAt: at(420)), 7, 420),
            try event("ada opted in", profile(a, email: "ada@analytical.example", name: "Ada L.", optOut: false, timeZone: "America/New_York", 450), 8, 450),
            try event("ada signed in again", IdentityUserLoggedInV1(userId: a, method: "oauth", provider: "github", loggedInAt: at(480)), 8, 480),
        ]
        let identityBob = [
            try event("bob registered", IdentityUserRegisteredV1(userId: b, email: "bob@example.com", name: "Bob", role: "USER", emailVerified: true, marketingOptOut: false, registeredAt: at(30)), 1, 30),
            try event("bob signed in", IdentityUserLoggedInV1(userId: b, method: "password", provider: nil, loggedInAt: at(90)), 1, 90),
            try event("bob onboarded", profile(b, email: "bob@example.com", name: "Bob", optOut: false, timeZone: "Asia/Tokyo", 150), 2, 150),
            try event("bob deleted", IdentityUserDeletedV1(userId: b, deletedBy: "self", deletedAt: at(5_000)), 3, 5_000),
        ]
        // Notifications: Ada's one-click unsubscribe, then her resubscribe, per user.
        let consentAda = [
            try event("ada unsubscribed", NotificationsConsentChangedV1(userId: a, marketingOptOut: true, source: "unsubscribe_link", changedAt: at(200)), 1, 200),
            try event("ada resubscribed", NotificationsConsentChangedV1(userId: a, marketingOptOut: false, source: "unsubscribe_link", changedAt: at(260)), 2, 260),
        ]

        // Billing: one version per subscription for its state and payments, one per user for access.
        func subscription(_ id: String, _ user: String, _ status: SubscriptionStatus, start: Double, cancel: Bool = false, failedAt: Double? = nil, cancelledAt: Double? = nil) -> SubscriptionState {
            SubscriptionState(
                subscriptionId: id, userId: user, status: status, tier: .pro, interval: .monthly, amount: 4900, currency: "gbp",
                currentPeriodStart: at(start), currentPeriodEnd: at(start + 2_592_000), cancelAtPeriodEnd: cancel, cancelledAt: cancelledAt.map(at),
                paymentFailedAt: failedAt.map(at))
        }
        let subA = "sub_ada_" + a.prefix(8), subB = "sub_bob_" + b.prefix(8)
        let subscriptionAda = [
            try event("ada subscribed", BillingSubscriptionActivatedV1(subscription: subscription(subA, a, .active, start: 1_000)), 1, 1_000),
            try event("ada payment failed", BillingPaymentFailedV1(userId: a, subscriptionId: subA, invoiceId: "in_a1", amount: 4900, currency: "gbp", paymentFailedAt: at(1_100)), 2, 1_100),
            try event("ada past due", BillingSubscriptionUpdatedV1(subscription: subscription(subA, a, .pastDue, start: 1_000, failedAt: 1_100)), 3, 1_100),
            try event("ada paid", BillingPaymentSucceededV1(userId: a, subscriptionId: subA, invoiceId: "in_a1", amount: 4900, currency: "gbp", isRenewal: true, paidAt: at(1_200)), 4, 1_200),
            try event("ada active again", BillingSubscriptionUpdatedV1(subscription: subscription(subA, a, .active, start: 1_000)), 5, 1_200),
            try event("ada cancelled", BillingSubscriptionCanceledV1(subscription: subscription(subA, a, .canceled, start: 1_000, cancel: true, cancelledAt: 1_500)), 6, 1_500),
        ]
        let entitlementAda = [
            try event("ada entitled", BillingEntitlementChangedV1(userId: a, hasAccess: true, tier: .pro, reason: "subscription"), 1, 1_000),
            try event("ada no longer entitled", BillingEntitlementChangedV1(userId: a, hasAccess: false, tier: .free, reason: "subscription"), 2, 1_500),
        ]
        let subscriptionBob = [
            try event("bob subscribed", BillingSubscriptionActivatedV1(subscription: subscription(subB, b, .active, start: 1_050)), 1, 1_050)
        ]
        let entitlementBob = [
            try event("bob entitled", BillingEntitlementChangedV1(userId: b, hasAccess: true, tier: .pro, reason: "subscription"), 1, 1_050),
            try event("bob's access withdrawn on deletion", BillingEntitlementChangedV1(userId: b, hasAccess: false, tier: .free, reason: "deletion"), 2, 5_001),
        ]

        // Content: the course outline (one aggregate, its version), Ada's plans (one sequence each).
        let (m1, m2) = (modules.first.lowercased, modules.second.lowercased)
        let l = lessons.map(\.lowercased)
        let gettingStarted = OutlineModule(
            id: m1, title: "Getting started", order: 1,
            lessons: [
                OutlineLesson(id: l[0], title: "Welcome", order: 1, isFree: true, durationSeconds: 120),
                OutlineLesson(id: l[1], title: "Tools", order: 2, isFree: false, durationSeconds: 600),
            ])
        let outline = [
            try event(
                "outline v1",
                ContentCourseOutlineChangedV1(
                    version: 1,
                    modules: [
                        gettingStarted,
                        OutlineModule(id: m2, title: "First app", order: 2, lessons: [OutlineLesson(id: l[2], title: "Screens", order: 1, isFree: false, durationSeconds: 900)]),
                    ], changedAt: at(-100)), 1, -100),
            try event(
                "outline v2",
                ContentCourseOutlineChangedV1(
                    version: 2,
                    modules: [
                        gettingStarted,
                        OutlineModule(
                            id: m2, title: "Your first app", order: 2,
                            lessons: [
                                OutlineLesson(id: l[2], title: "Screens", order: 1, isFree: false, durationSeconds: 900),
                                OutlineLesson(id: l[3], title: "Data", order: 2, isFree: false, durationSeconds: 700),
                            ]),
                    ], changedAt: at(2_000)), 2, 2_000),
        ]
        func planModules(_ titles: [String]) -> [PlanModuleOutline] {
            titles.enumerated().map { index, title in
                PlanModuleOutline(
                    id: UUID().lowercased, order: index + 1, title: title, estimatedMinutes: 60,
                    tasks: [PlanTaskOutline(id: UUID().lowercased, order: 1, title: "Read: \(title)", estimatedMinutes: 30),
                            PlanTaskOutline(id: UUID().lowercased, order: 2, title: "Practise: \(title)", estimatedMinutes: 30)])
            }
        }
        let (kept, deleted) = (plans.kept.lowercased, plans.deleted.lowercased)
        let planKept = [
            try event("plan generated", ContentPlanGeneratedV1(planId: kept, userId: a, modules: planModules(["Views", "State"]), generatedAt: at(700)), 1, 700),
            try event("plan regenerated", ContentPlanRegeneratedV1(planId: kept, userId: a, modules: planModules(["Views", "State", "Data"]), regeneratedAt: at(800)), 2, 800),
        ]
        let planDeleted = [
            try event("second plan generated", ContentPlanGeneratedV1(planId: deleted, userId: a, modules: planModules(["Networking"]), generatedAt: at(900)), 1, 900),
            try event("second plan deleted", ContentPlanDeletedV1(planId: deleted, userId: a, deletedAt: at(950)), 2, 950),
        ]

        // Progress: one sequence per learner over lessons, modules and the course.
        func started(_ user: String, _ lesson: Int, module: String, first: Bool, _ time: Double) -> ProgressLessonStartedV1 {
            ProgressLessonStartedV1(userId: user, lessonId: l[lesson], moduleId: module, isFree: lesson == 0, firstTime: first, startedAt: at(time))
        }
        func completed(_ lesson: Int, module: String, _ time: Double) -> ProgressLessonCompletedV1 {
            ProgressLessonCompletedV1(userId: a, lessonId: l[lesson], moduleId: module, isFree: lesson == 0, completedAt: at(time))
        }
        let progressAda = [
            try event("ada started lesson 1", started(a, 0, module: m1, first: true, 1_010), 1, 1_010),
            try event("ada completed lesson 1", completed(0, module: m1, 1_020), 2, 1_020),
            try event("ada started lesson 2", started(a, 1, module: m1, first: true, 1_030), 3, 1_030),
            try event("ada completed lesson 2", completed(1, module: m1, 1_040), 4, 1_040),
            try event("ada completed module 1", ProgressModuleCompletedV1(userId: a, moduleId: m1, firstTime: true, nextModuleId: m2, completedAt: at(1_040)), 5, 1_040),
            try event("ada uncompleted lesson 2", ProgressLessonUncompletedV1(userId: a, lessonId: l[1], moduleId: m1, isFree: false, uncompletedAt: at(1_050)), 6, 1_050),
            try event("ada's module 1 reopened", ProgressModuleReopenedV1(userId: a, moduleId: m1, reason: "lesson_uncompleted", reopenedAt: at(1_050)), 7, 1_050),
            try event("ada completed lesson 2 again", completed(1, module: m1, 1_060), 8, 1_060),
            try event("ada completed module 1 again", ProgressModuleCompletedV1(userId: a, moduleId: m1, firstTime: false, nextModuleId: m2, completedAt: at(1_060)), 9, 1_060),
            try event("ada started lesson 3", started(a, 2, module: m2, first: true, 1_070), 10, 1_070),
            try event("ada completed lesson 3", completed(2, module: m2, 1_080), 11, 1_080),
            try event("ada completed module 2", ProgressModuleCompletedV1(userId: a, moduleId: m2, firstTime: true, nextModuleId: nil, completedAt: at(1_080)), 12, 1_080),
            try event("ada completed the course", ProgressCourseCompletedV1(userId: a, firstTime: true, completedAt: at(1_080)), 13, 1_080),
            try event("ada's course reopened", ProgressCourseReopenedV1(userId: a, reason: "outline_changed", reopenedAt: at(2_000)), 14, 2_000),
            try event("ada's module 2 reopened", ProgressModuleReopenedV1(userId: a, moduleId: m2, reason: "outline_changed", reopenedAt: at(2_000)), 15, 2_000),
        ]
        let progressBob = [
            try event("bob started lesson 1", started(b, 0, module: m1, first: true, 1_100), 1, 1_100)
        ]

        self.histories = [
            identityAda, identityBob, consentAda, subscriptionAda, entitlementAda, subscriptionBob, entitlementBob, outline, planKept, planDeleted,
            progressAda, progressBob,
        ]
    }
}
