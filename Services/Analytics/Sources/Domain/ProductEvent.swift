/// The product events analytics tracks. Server events are derived from the bus and always carry
/// the user; client events come from apps, anonymous (a session) or signed in.
public enum ProductEvent: String, CaseIterable, Sendable, Codable {
    // From the bus.
    case signupCompleted = "signup_completed"
    case onboardingCompleted = "onboarding_completed"
    case video1Started = "video_1_started"
    case video1Completed = "video_1_completed"
    case lessonStarted = "lesson_started"
    case lessonCompleted = "lesson_completed"
    case moduleCompleted = "module_completed"
    case courseCompleted = "course_completed"
    case subscriptionStarted = "subscription_started"
    case subscriptionRenewed = "subscription_renewed"
    case subscriptionCancelled = "subscription_cancelled"
    case paymentFailed = "payment_failed"
    // From apps.
    case signupStarted = "signup_started"
    case paywallViewed = "paywall_viewed"
    case subscriptionPlanSelected = "subscription_plan_selected"
}
