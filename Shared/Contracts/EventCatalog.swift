/// Every event type of the contract, who publishes it and who consumes it. The broker topology,
/// the AsyncAPI document and the schema tests are all checked against this one list.
public enum EventCatalog {
    public static let all: [EventType] = [
        IdentityUserRegisteredV1.eventType,
        IdentityUserLoggedInV1.eventType,
        IdentityUserProfileUpdatedV1.eventType,
        IdentityUserRoleChangedV1.eventType,
        IdentityUserAccessOverrideChangedV1.eventType,
        IdentityUserDeletedV1.eventType,
        IdentityEmailVerificationRequestedV1.eventType,
        IdentityPasswordResetRequestedV1.eventType,
        IdentityEmailVerificationRequestedV2.eventType,
        IdentityPasswordResetRequestedV2.eventType,
        IdentityEmailVerificationLinkV1.eventType,
        IdentityPasswordResetLinkV1.eventType,
        IdentityEmailChangeRequestedV1.eventType,
        NotificationsConsentChangedV1.eventType,
        NotificationsEmailSentV1.eventType,
        NotificationsEmailFailedV1.eventType,
        BillingSubscriptionActivatedV1.eventType,
        BillingSubscriptionUpdatedV1.eventType,
        BillingSubscriptionCanceledV1.eventType,
        BillingPaymentFailedV1.eventType,
        BillingPaymentSucceededV1.eventType,
        BillingTrialEndingV1.eventType,
        BillingEntitlementChangedV1.eventType,
        ContentCourseOutlineChangedV1.eventType,
        ContentVideoReadyV1.eventType,
        ContentVideoFailedV1.eventType,
        ContentPlanGeneratedV1.eventType,
        ContentPlanGenerationFailedV1.eventType,
        ContentPlanDeletedV1.eventType,
        ContentPlanRegeneratedV1.eventType,
        ContentPlanExportedV1.eventType,
        ProgressLessonStartedV1.eventType,
        ProgressLessonCompletedV1.eventType,
        ProgressLessonUncompletedV1.eventType,
        ProgressModuleCompletedV1.eventType,
        ProgressModuleReopenedV1.eventType,
        ProgressCourseCompletedV1.eventType,
        ProgressCourseReopenedV1.eventType,
        ProgressTaskStatusChangedV1.eventType,
        ProgressPlanCompletedV1.eventType,
        WebhooksEndpointDisabledV1.eventType,
    ]

    /// Types no longer published: their schemas stay (archived copies still match them), no
    /// consumer binds them, and a genuine one that still arrives is acknowledged and counted.
    public static let retired: Set<EventType> = [
        IdentityEmailVerificationRequestedV1.eventType,
        IdentityPasswordResetRequestedV1.eventType,
    ]

    /// The private exchanges: those of producers with a private type.
    public static var privateExchanges: [String] {
        ServiceName.allCases.filter { service in all.contains { $0.producer == service && $0.visibility == .private } }
            .map(\.privateExchange)
    }

    /// The event types each service consumes: its queue is bound to exactly these keys, and it
    /// has a handler for each (an event without one is dead-lettered).
    public static let subscriptions: [ServiceName: [EventType]] = [
        .identity: [NotificationsConsentChangedV1.eventType],
        .billing: [IdentityUserAccessOverrideChangedV1.eventType, IdentityUserRoleChangedV1.eventType, IdentityUserDeletedV1.eventType],
        .content: [
            IdentityUserProfileUpdatedV1.eventType,
            IdentityUserRoleChangedV1.eventType,
            IdentityUserDeletedV1.eventType,
            BillingEntitlementChangedV1.eventType,
            ProgressModuleCompletedV1.eventType,
            ProgressModuleReopenedV1.eventType,
        ],
        .progress: [
            IdentityUserRoleChangedV1.eventType,
            IdentityUserDeletedV1.eventType,
            BillingEntitlementChangedV1.eventType,
            ContentCourseOutlineChangedV1.eventType,
            ContentPlanGeneratedV1.eventType,
            ContentPlanRegeneratedV1.eventType,
            ContentPlanDeletedV1.eventType,
        ],
        .notifications: [
            IdentityUserRegisteredV1.eventType,
            IdentityUserLoggedInV1.eventType,
            IdentityUserProfileUpdatedV1.eventType,
            IdentityUserRoleChangedV1.eventType,
            IdentityUserDeletedV1.eventType,
            IdentityEmailVerificationLinkV1.eventType,
            IdentityPasswordResetLinkV1.eventType,
            IdentityEmailChangeRequestedV1.eventType,
            BillingSubscriptionActivatedV1.eventType,
            BillingSubscriptionUpdatedV1.eventType,
            BillingSubscriptionCanceledV1.eventType,
            BillingPaymentFailedV1.eventType,
            BillingPaymentSucceededV1.eventType,
            BillingEntitlementChangedV1.eventType,
            ProgressLessonStartedV1.eventType,
            ProgressLessonCompletedV1.eventType,
            ProgressModuleCompletedV1.eventType,
            ProgressCourseCompletedV1.eventType,
            ContentVideoFailedV1.eventType,
            WebhooksEndpointDisabledV1.eventType,
        ],
        // Analytics subscribes like any outside system: the public contract only.
        .analytics: [
            IdentityUserRegisteredV1.eventType,
            IdentityUserProfileUpdatedV1.eventType,
            IdentityUserRoleChangedV1.eventType,
            IdentityUserDeletedV1.eventType,
            ProgressLessonStartedV1.eventType,
            ProgressLessonCompletedV1.eventType,
            ProgressModuleCompletedV1.eventType,
            ProgressCourseCompletedV1.eventType,
            BillingSubscriptionActivatedV1.eventType,
            BillingSubscriptionUpdatedV1.eventType,
            BillingSubscriptionCanceledV1.eventType,
            BillingPaymentSucceededV1.eventType,
            BillingPaymentFailedV1.eventType,
        ],
        // Webhooks delivers the public contract to HTTPS endpoints: every public type still published.
        .webhooks: publicTypes,
    ]

    /// The public types still published: what any outside subscriber may bind.
    public static var publicTypes: [EventType] {
        all.filter { $0.visibility == .public && !retired.contains($0) }
    }
}

extension EventCatalog {
    /// One type of the catalogue as the document generators read it (`syllabus contracts
    /// catalogue`, then `scripts/contracts.py asyncapi`).
    public struct Entry: Codable, Sendable, Equatable {
        public var routingKey: String
        public var type: String
        public var producer: String
        public var exchange: String
        public var visibility: String
        public var retired: Bool
        /// The consuming services, in the order of `ServiceName.allCases`.
        public var consumers: [String]
    }

    /// Every type, in catalogue order.
    public static var entries: [Entry] {
        all.map { type in
            Entry(
                routingKey: type.routingKey, type: type.cloudEventType, producer: type.producer.rawValue, exchange: type.exchange,
                visibility: type.visibility == .private ? "private" : "public", retired: retired.contains(type),
                consumers: ServiceName.allCases.filter { subscriptions[$0]?.contains(type) == true }.map(\.rawValue))
        }
    }
}
