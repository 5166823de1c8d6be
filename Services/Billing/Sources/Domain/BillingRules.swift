import Contracts
import Foundation
import ServiceKit

extension SubscriptionStatus {
    /// Stripe's status, mapped: `paused` and `incomplete_expired` end a subscription here; a
    /// status Stripe has added since is not guessed at (nil).
    public init?(stripe status: String) {
        switch status {
        case "active": self = .active
        case "trialing": self = .trialing
        case "past_due": self = .pastDue
        case "unpaid": self = .unpaid
        case "canceled", "incomplete_expired", "paused": self = .canceled
        case "incomplete": self = .incomplete
        default: return nil
        }
    }
}

/// What a user may open, decided here and nowhere else.
public struct Entitlement: Sendable, Equatable {
    public var hasAccess: Bool
    public var tier: Tier

    public static let none = Entitlement(hasAccess: false, tier: .free)

    /// The override (granted by an admin) opens everything, as `pro`; otherwise a subscription
    /// whose status grants access, at its tier; otherwise nothing.
    public static func decide(accessOverride: Bool, status: SubscriptionStatus?, tier: Tier?) -> Entitlement {
        if accessOverride { return Entitlement(hasAccess: true, tier: .pro) }
        if let status, status.grantsAccess, let tier, tier != .free, tier.isKnown { return Entitlement(hasAccess: true, tier: tier) }
        return .none
    }

    /// Whether `self`, newly decided, must be announced: never announced yet, or different from
    /// what was.
    public func mustPublish(over published: Entitlement?) -> Bool {
        published != self
    }
}

/// One price of the catalogue: (tier, interval) → Stripe price id and amount in minor units.
public struct Price: Sendable, Equatable {
    public var tier: Tier
    public var interval: BillingInterval
    public var stripePriceID: String
    public var amount: Int
}

/// The configurable price catalogue (`BILLING_PRICES`), with the course's prices as defaults.
public struct PriceCatalogue: Sendable, Equatable {
    public var prices: [Price]
    public var currency: String

    public static let `default` = PriceCatalogue(
        prices: [
            Price(tier: .pro, interval: .monthly, stripePriceID: "price_pro_monthly", amount: 4900),
            Price(tier: .pro, interval: .annual, stripePriceID: "price_pro_annual", amount: 39900),
            Price(tier: .starter, interval: .monthly, stripePriceID: "price_starter_monthly", amount: 1900),
            Price(tier: .starter, interval: .annual, stripePriceID: "price_starter_annual", amount: 19000),
        ],
        currency: "gbp")

    /// Parses `pro:MONTHLY:price_123:4900,starter:ANNUAL:price_456:19000`.
    public static func parse(_ text: String, currency: String) -> PriceCatalogue? {
        var prices: [Price] = []
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 4, let tier = Tier(known: parts[0]), tier != .free, let interval = BillingInterval(known: parts[1]),
                !parts[2].isEmpty, let amount = Int(parts[3]), amount >= 0
            else { return nil }
            prices.append(Price(tier: tier, interval: interval, stripePriceID: parts[2], amount: amount))
        }
        return prices.isEmpty ? nil : PriceCatalogue(prices: prices, currency: currency.lowercased())
    }

    public func price(id: String) -> Price? { prices.first { $0.stripePriceID == id } }
    public func price(tier: Tier, interval: BillingInterval) -> Price? { prices.first { $0.tier == tier && $0.interval == interval } }
}

/// How Stripe's events are put in order and tied to subscriptions and users. Stripe delivers out
/// of order and more than once; these rules decide, from what billing holds, what an event may
/// still change.
public enum StripeOrdering {
    /// What to do with a subscription event, given the time (Stripe's `created`, whole seconds)
    /// of the newest event already applied to the subscription.
    public enum Verdict: Equatable, Sendable {
        /// Older than what is held: it must not overwrite newer state.
        case stale
        /// Apply it; with `readBack`, also read the subscription back from Stripe, since two
        /// events within one second cannot be told apart and the later arrival may be the older.
        case apply(readBack: Bool)
    }

    public static func judge(incoming: Int64, applied: Int64?, canReadBack: Bool) -> Verdict {
        guard let applied else { return .apply(readBack: false) }
        if applied > incoming { return .stale }
        return .apply(readBack: canReadBack && applied == incoming)
    }

    /// Whether a subscription read back from Stripe may still be applied: only if no newer event
    /// has been applied since the read was asked for (the snapshot may be older than it).
    public static func readBackStillCurrent(askedAt: Int64, applied: Int64) -> Bool {
        askedAt == applied
    }
}

/// Which `billing.subscription.*` event a change of status announces.
public enum SubscriptionEventKind: Sendable, Equatable {
    case activated, updated, canceled

    /// Canceled when it ends; activated when it comes into good standing from none or from one
    /// that gave no access (a return from PAST_DUE is an update); otherwise an update.
    public static func of(_ status: SubscriptionStatus, previous: SubscriptionStatus?) -> SubscriptionEventKind {
        if status == .canceled, previous != .canceled { return .canceled }
        if status.isInGoodStanding, !(previous?.grantsAccess ?? false) { return .activated }
        return .updated
    }
}

/// What a subscription event says the status now is: `customer.subscription.deleted` always
/// ends it; a status Stripe has added since is kept as INCOMPLETE (no access) until it is known.
public enum SubscriptionStatusRule {
    public static func status(eventType: String, stripeStatus: String) -> SubscriptionStatus {
        eventType == "customer.subscription.deleted" ? .canceled : (SubscriptionStatus(stripe: stripeStatus) ?? .incomplete)
    }

    /// When a subscription ended: Stripe's `canceled_at`, else the time of the event that ended
    /// it; nil while it has not ended.
    public static func cancelledAt(status: SubscriptionStatus, canceledAt: Date?, eventCreated: Int64) -> Date? {
        status == .canceled ? (canceledAt ?? Date(timeIntervalSince1970: Double(eventCreated))) : nil
    }
}

/// How customers and subscriptions are tied to users.
public enum Linking {
    /// The user of a completed Checkout: the session's `client_reference_id`, else its
    /// `metadata.userId`.
    public static func checkoutUser(clientReference: String?, metadata: String?) -> UUID? {
        (clientReference ?? metadata).flatMap(UUID.init(uuidString:))
    }

    /// Where a customer's user comes from.
    public enum CustomerUser: Equatable, Sendable {
        /// Billing's own record of the customer.
        case recorded(UUID)
        /// The subscription's `metadata.userId` (then recorded, unless the user was deleted).
        case metadata(UUID)
        case unknown
    }

    public static func customerUser(recorded: UUID?, metadata: String?) -> CustomerUser {
        if let recorded { return .recorded(recorded) }
        if let metadata, let user = UUID(uuidString: metadata) { return .metadata(user) }
        return .unknown
    }

    /// Whether a subscription not yet tied to a user is given the user found for it. A user has
    /// one subscription: a late event of an older, ended one never displaces a live one.
    public static func attaches(status: SubscriptionStatus, userHasAnotherLiveSubscription: Bool) -> Bool {
        !userHasAnotherLiveSubscription || status != .canceled
    }
}

/// What the payments routes refuse, before Stripe is called.
public enum CheckoutRules {
    /// The plan asked for: a tier that is sold (not `free`) and a billing interval.
    public static func plan(tier: String?, interval: String?) throws -> (Tier, BillingInterval) {
        var errors: [FieldError] = []
        let tier = tier.flatMap(Tier.init(known:))
        if tier == nil || tier == .free { errors.append(FieldError(field: "tier", code: "invalid_choice", message: "One of: starter, pro.")) }
        let interval = interval.flatMap(BillingInterval.init(known:))
        if interval == nil { errors.append(FieldError(field: "interval", code: "invalid_choice", message: "One of: MONTHLY, ANNUAL.")) }
        guard errors.isEmpty, let tier, let interval else { throw DomainError.validation(errors) }
        return (tier, interval)
    }

    /// A user whose subscription still gives access manages it in the portal; a second one is
    /// not sold.
    public static func mayCheckOut(currentStatus: SubscriptionStatus?) -> Bool {
        !(currentStatus?.grantsAccess ?? false)
    }
}
