import Foundation

/// A closed set of words on the wire that a newer producer may extend: decoding never fails on a
/// word this build does not know (the schemas tell consumers to tolerate one); it is kept as it
/// came, encoded back unchanged, and matches no known case.
public protocol WireValue: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible where RawValue == String {
    /// The words this build knows, in the order the contract lists them.
    static var known: [Self] { get }
    init(rawValue: String)
}

extension WireValue {
    /// A known word, or nil: for input that must be one of the listed words (a request, a setting).
    public init?(known rawValue: String) {
        guard let value = Self.known.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = value
    }

    public var isKnown: Bool { Self.known.contains(self) }
    public var description: String { rawValue }

    /// What each type's `encode(to:)` does: the word itself, as a single value.
    func encodeWord(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    static func decodeWord(from decoder: any Decoder) throws -> String {
        try decoder.singleValueContainer().decode(String.self)
    }
}

/// A subscription's status as billing keeps and announces it (`SubscriptionState.status`).
public enum SubscriptionStatus: WireValue, CaseIterable {
    case active, trialing, pastDue, unpaid, canceled, incomplete
    case unknown(String)

    public static let known: [SubscriptionStatus] = [.active, .trialing, .pastDue, .unpaid, .canceled, .incomplete]
    public static var allCases: [SubscriptionStatus] { known }

    public init(rawValue: String) {
        switch rawValue {
        case "ACTIVE": self = .active
        case "TRIALING": self = .trialing
        case "PAST_DUE": self = .pastDue
        case "UNPAID": self = .unpaid
        case "CANCELED": self = .canceled
        case "INCOMPLETE": self = .incomplete
        default: self = .unknown(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws { self.init(rawValue: try Self.decodeWord(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try encodeWord(to: encoder) }

    public var rawValue: String {
        switch self {
        case .active: "ACTIVE"
        case .trialing: "TRIALING"
        case .pastDue: "PAST_DUE"
        case .unpaid: "UNPAID"
        case .canceled: "CANCELED"
        case .incomplete: "INCOMPLETE"
        case .unknown(let raw): raw
        }
    }

    /// ACTIVE and TRIALING give access, and PAST_DUE too: grace while the payment is retried. A
    /// status this build does not know gives none. The one statement of the rule: billing decides
    /// entitlements by it, and the services that follow subscriptions read it the same way.
    public var grantsAccess: Bool { self == .active || self == .trialing || self == .pastDue }

    /// Running normally (ACTIVE or TRIALING): no grace, no end in sight. A subscription becomes
    /// "activated" when it reaches this from one that gave no access, and only such a
    /// subscription will renew.
    public var isInGoodStanding: Bool { self == .active || self == .trialing }

    /// Whether it counts towards monthly recurring revenue: ACTIVE only (a trial has not paid, a
    /// past-due one may not).
    public var countsTowardsRevenue: Bool { self == .active }
}

/// A plan's tier. `free` is what a user without a subscription has; subscriptions are `starter`
/// or `pro`.
public enum Tier: WireValue, CaseIterable {
    case free, starter, pro
    case unknown(String)

    public static let known: [Tier] = [.free, .starter, .pro]
    public static var allCases: [Tier] { known }

    public init(rawValue: String) {
        switch rawValue {
        case "free": self = .free
        case "starter": self = .starter
        case "pro": self = .pro
        default: self = .unknown(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws { self.init(rawValue: try Self.decodeWord(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try encodeWord(to: encoder) }

    public var rawValue: String {
        switch self {
        case .free: "free"
        case .starter: "starter"
        case .pro: "pro"
        case .unknown(let raw): raw
        }
    }
}

/// How often a subscription is billed.
public enum BillingInterval: WireValue, CaseIterable {
    case monthly, annual
    case unknown(String)

    public static let known: [BillingInterval] = [.monthly, .annual]
    public static var allCases: [BillingInterval] { known }

    public init(rawValue: String) {
        switch rawValue {
        case "MONTHLY": self = .monthly
        case "ANNUAL": self = .annual
        default: self = .unknown(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws { self.init(rawValue: try Self.decodeWord(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try encodeWord(to: encoder) }

    public var rawValue: String {
        switch self {
        case .monthly: "MONTHLY"
        case .annual: "ANNUAL"
        case .unknown(let raw): raw
        }
    }
}

/// A user's role, as identity grants it and access tokens carry it.
public enum Role: WireValue, CaseIterable {
    case user, admin
    case unknown(String)

    public static let known: [Role] = [.user, .admin]
    public static var allCases: [Role] { known }

    public init(rawValue: String) {
        switch rawValue {
        case "USER": self = .user
        case "ADMIN": self = .admin
        default: self = .unknown(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws { self.init(rawValue: try Self.decodeWord(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try encodeWord(to: encoder) }

    public var rawValue: String {
        switch self {
        case .user: "USER"
        case .admin: "ADMIN"
        case .unknown(let raw): raw
        }
    }
}

/// Monthly recurring revenue in minor units, as billing reports it now and analytics rebuilds it
/// through time: subscriptions whose status counts towards revenue, annual prices as a twelfth.
/// Summed exactly (in twelfths) and rounded once, half up, so the total is right to the penny
/// however many annual subscriptions there are.
public enum MRR {
    /// `count` subscriptions alike in status, interval and price.
    public struct Line: Sendable, Equatable {
        public var status: SubscriptionStatus
        public var interval: BillingInterval
        public var amount: Int
        public var count: Int

        public init(status: SubscriptionStatus, interval: BillingInterval, amount: Int, count: Int = 1) {
            self.status = status
            self.interval = interval
            self.amount = amount
            self.count = count
        }

        /// Whether these subscriptions count: a status that counts and an interval this build
        /// can turn into a month.
        var counts: Bool { status.countsTowardsRevenue && interval.isKnown }
    }

    public static func compute(_ lines: [Line]) -> (mrr: Int, subscriptions: Int) {
        var twelfths = 0
        var subscriptions = 0
        for line in lines where line.counts {
            twelfths += (line.interval == .monthly ? line.amount * 12 : line.amount) * line.count
            subscriptions += line.count
        }
        return ((twelfths + 6) / 12, subscriptions)
    }

    public static func compute(_ subscriptions: [(status: SubscriptionStatus, interval: BillingInterval, amount: Int)]) -> Int {
        compute(subscriptions.map { Line(status: $0.status, interval: $0.interval, amount: $0.amount) }).mrr
    }
}
