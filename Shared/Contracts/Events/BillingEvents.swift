import Foundation

/// A subscription's whole state, as every `billing.subscription.*` event carries it.
public struct SubscriptionState: Codable, Sendable, Equatable {
    public var subscriptionId: String
    /// The user, once known (a subscription can be seen before its checkout links it).
    public var userId: String?
    /// ACTIVE, TRIALING, PAST_DUE, UNPAID, CANCELED or INCOMPLETE.
    public var status: SubscriptionStatus
    /// starter or pro.
    public var tier: Tier?
    /// MONTHLY or ANNUAL.
    public var interval: BillingInterval?
    /// The price in minor units (pence), and its currency.
    public var amount: Int?
    public var currency: String?
    public var currentPeriodStart: Date?
    public var currentPeriodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    public var cancelledAt: Date?
    public var paymentFailedAt: Date?

    public init(
        subscriptionId: String, userId: String?, status: SubscriptionStatus, tier: Tier?, interval: BillingInterval?, amount: Int?, currency: String?,
        currentPeriodStart: Date?, currentPeriodEnd: Date?, cancelAtPeriodEnd: Bool, cancelledAt: Date?, paymentFailedAt: Date?
    ) {
        self.subscriptionId = subscriptionId
        self.userId = userId
        self.status = status
        self.tier = tier
        self.interval = interval
        self.amount = amount
        self.currency = currency
        self.currentPeriodStart = currentPeriodStart
        self.currentPeriodEnd = currentPeriodEnd
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.cancelledAt = cancelledAt
        self.paymentFailedAt = paymentFailedAt
    }
}

/// `billing.subscription.activated.v1`: a subscription started giving access (first time ACTIVE or TRIALING).
public struct BillingSubscriptionActivatedV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "subscription.activated", majorVersion: 1)
    public var subscription: SubscriptionState
    public init(subscription: SubscriptionState) { self.subscription = subscription }
    public var subject: String { subscription.subscriptionId }
}

/// `billing.subscription.updated.v1`: any other change of a subscription (status, plan, period, cancel-at-period-end).
public struct BillingSubscriptionUpdatedV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "subscription.updated", majorVersion: 1)
    public var subscription: SubscriptionState
    public init(subscription: SubscriptionState) { self.subscription = subscription }
    public var subject: String { subscription.subscriptionId }
}

/// `billing.subscription.canceled.v1`: the subscription ended.
public struct BillingSubscriptionCanceledV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "subscription.canceled", majorVersion: 1)
    public var subscription: SubscriptionState
    public init(subscription: SubscriptionState) { self.subscription = subscription }
    public var subject: String { subscription.subscriptionId }
}

/// `billing.payment.failed.v1`: an invoice could not be paid. Always names the user.
public struct BillingPaymentFailedV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "payment.failed", majorVersion: 1)
    public var userId: String
    public var subscriptionId: String
    public var invoiceId: String
    public var amount: Int
    public var currency: String
    /// When the first failure of this spell happened (the final warning is timed from it).
    public var paymentFailedAt: Date

    public init(userId: String, subscriptionId: String, invoiceId: String, amount: Int, currency: String, paymentFailedAt: Date) {
        self.userId = userId
        self.subscriptionId = subscriptionId
        self.invoiceId = invoiceId
        self.amount = amount
        self.currency = currency
        self.paymentFailedAt = paymentFailedAt
    }

    public var subject: String { subscriptionId }
}

/// `billing.payment.succeeded.v1`: an invoice was paid; `isRenewal` for a new period of an
/// existing subscription. Always names the user.
public struct BillingPaymentSucceededV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "payment.succeeded", majorVersion: 1)
    public var userId: String
    public var subscriptionId: String
    public var invoiceId: String
    public var amount: Int
    public var currency: String
    public var isRenewal: Bool
    public var paidAt: Date

    public init(userId: String, subscriptionId: String, invoiceId: String, amount: Int, currency: String, isRenewal: Bool, paidAt: Date) {
        self.userId = userId
        self.subscriptionId = subscriptionId
        self.invoiceId = invoiceId
        self.amount = amount
        self.currency = currency
        self.isRenewal = isRenewal
        self.paidAt = paidAt
    }

    public var subject: String { subscriptionId }
}

/// `billing.trial.ending.v1`: Stripe says a trial ends soon.
public struct BillingTrialEndingV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "trial.ending", majorVersion: 1)
    public var userId: String
    public var subscriptionId: String
    public var trialEnd: Date

    public init(userId: String, subscriptionId: String, trialEnd: Date) {
        self.userId = userId
        self.subscriptionId = subscriptionId
        self.trialEnd = trialEnd
    }

    public var subject: String { subscriptionId }
}

/// `billing.entitlement.changed.v1`: whether a user may open paid content, and at which tier,
/// changed — whatever the cause. Billing is the one place that decides it.
public struct BillingEntitlementChangedV1: DomainEvent {
    public static let eventType = EventType(producer: .billing, name: "entitlement.changed", majorVersion: 1)
    public var userId: String
    public var hasAccess: Bool
    /// free, starter or pro.
    public var tier: Tier
    /// What changed it: subscription, access_override, deletion.
    public var reason: String

    public init(userId: String, hasAccess: Bool, tier: Tier, reason: String) {
        self.userId = userId
        self.hasAccess = hasAccess
        self.tier = tier
        self.reason = reason
    }

    public var subject: String { userId }
}
