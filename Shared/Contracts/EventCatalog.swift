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
        NotificationsConsentChangedV1.eventType,
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
        ProgressLessonStartedV1.eventType,
        ProgressLessonCompletedV1.eventType,
        ProgressLessonUncompletedV1.eventType,
        ProgressModuleCompletedV1.eventType,
        ProgressModuleReopenedV1.eventType,
        ProgressCourseCompletedV1.eventType,
        ProgressCourseReopenedV1.eventType,
    ]

    /// The event types each service consumes: its queue is bound to exactly these keys, and it
    /// has a handler for each (an event without one is dead-lettered).
    public static let subscriptions: [ServiceName: [EventType]] = [
        .identity: [NotificationsConsentChangedV1.eventType],
        .billing: [IdentityUserAccessOverrideChangedV1.eventType, IdentityUserDeletedV1.eventType],
        .content: [
            IdentityUserDeletedV1.eventType,
            BillingEntitlementChangedV1.eventType,
            ProgressModuleCompletedV1.eventType,
            ProgressModuleReopenedV1.eventType,
        ],
        .progress: [
            IdentityUserDeletedV1.eventType,
            BillingEntitlementChangedV1.eventType,
            ContentCourseOutlineChangedV1.eventType,
        ],
        .notifications: [
            IdentityUserRegisteredV1.eventType,
            IdentityUserLoggedInV1.eventType,
            IdentityUserProfileUpdatedV1.eventType,
            IdentityUserRoleChangedV1.eventType,
            IdentityUserDeletedV1.eventType,
            IdentityEmailVerificationRequestedV1.eventType,
            IdentityPasswordResetRequestedV1.eventType,
        ],
    ]
}
