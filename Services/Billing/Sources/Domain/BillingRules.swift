import Foundation

/// A subscription's status as Syllabus keeps it.
public enum SubscriptionStatus: String, Sendable, CaseIterable, Codable {
    case active = "ACTIVE", trialing = "TRIALING", pastDue = "PAST_DUE", unpaid = "UNPAID", canceled = "CANCELED", incomplete = "INCOMPLETE"

    /// Stripe's status, mapped: `paused` and `incomplete_expired` end a subscription here.
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

    /// ACTIVE and TRIALING give access, and PAST_DUE too: grace while Stripe retries the payment.
    public var grantsAccess: Bool { self == .active || self == .trialing || self == .pastDue }
}

public enum Tier: String, Sendable, CaseIterable, Codable {
    case free, starter, pro
}

public enum BillingInterval: String, Sendable, CaseIterable, Codable {
    case monthly = "MONTHLY", annual = "ANNUAL"
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
        if let status, status.grantsAccess, let tier, tier != .free { return Entitlement(hasAccess: true, tier: tier) }
        return .none
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
            guard parts.count == 4, let tier = Tier(rawValue: parts[0]), tier != .free, let interval = BillingInterval(rawValue: parts[1]),
                !parts[2].isEmpty, let amount = Int(parts[3]), amount >= 0
            else { return nil }
            prices.append(Price(tier: tier, interval: interval, stripePriceID: parts[2], amount: amount))
        }
        return prices.isEmpty ? nil : PriceCatalogue(prices: prices, currency: currency.lowercased())
    }

    public func price(id: String) -> Price? { prices.first { $0.stripePriceID == id } }
    public func price(tier: Tier, interval: BillingInterval) -> Price? { prices.first { $0.tier == tier && $0.interval == interval } }
}

/// Monthly recurring revenue in minor units: ACTIVE subscriptions only, annual prices as a
/// twelfth. Summed exactly (in twelfths) and rounded once, half up, so the total is right to the
/// penny however many annual subscriptions there are.
public enum MRR {
    public static func compute(_ subscriptions: [(status: SubscriptionStatus, interval: BillingInterval, amount: Int)]) -> Int {
        var twelfths = 0
        for subscription in subscriptions where subscription.status == .active {
            twelfths += subscription.interval == .monthly ? subscription.amount * 12 : subscription.amount
        }
        return (twelfths + 6) / 12
    }
}
