import Foundation
import ServiceKit

/// A Stripe webhook event: what every type shares.
public struct StripeEvent: Sendable, Equatable {
    public let id: String
    public let type: String
    /// Unix seconds: Stripe's order, to one-second resolution.
    public let created: Int64
    public let livemode: Bool
    public let object: JSONValue

    public init(json: JSONValue) throws {
        guard let id = json["id"].string, id.hasPrefix("evt_"), let type = json["type"].string, let created = json["created"].int,
            let livemode = json["livemode"].bool, case .object = json["data"]["object"]
        else { throw StripeObjectError.notAnEvent }
        self.id = id
        self.type = type
        self.created = created
        self.livemode = livemode
        self.object = json["data"]["object"]
    }
}

public enum StripeObjectError: Error, Equatable {
    case notAnEvent
    case missing(String)
}

/// What billing needs of a Stripe subscription, from either API shape: periods are on the
/// subscription in older versions and on its items from 2025-03-31.
public struct StripeSubscription: Sendable, Equatable {
    public var id: String
    public var customer: String
    public var status: String
    public var priceID: String?
    public var currentPeriodStart: Date?
    public var currentPeriodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    public var canceledAt: Date?
    public var trialEnd: Date?
    public var metadataUserID: String?

    public init(_ object: JSONValue) throws {
        guard let id = object["id"].string else { throw StripeObjectError.missing("subscription id") }
        guard let customer = object["customer"].id else { throw StripeObjectError.missing("subscription customer") }
        guard let status = object["status"].string else { throw StripeObjectError.missing("subscription status") }
        self.id = id
        self.customer = customer
        self.status = status
        let item = object["items"]["data"][0]
        priceID = item["price"]["id"].string ?? item["plan"]["id"].string
        currentPeriodStart = object["current_period_start"].date ?? item["current_period_start"].date
        currentPeriodEnd = object["current_period_end"].date ?? item["current_period_end"].date
        cancelAtPeriodEnd = object["cancel_at_period_end"].bool ?? false
        canceledAt = object["canceled_at"].date
        trialEnd = object["trial_end"].date
        metadataUserID = object["metadata"]["userId"].string
    }
}

/// What billing needs of an invoice; its subscription is `subscription` in older API versions and
/// `parent.subscription_details.subscription` in newer ones.
public struct StripeInvoice: Sendable, Equatable {
    public var id: String
    public var customer: String?
    public var subscription: String?
    public var billingReason: String?
    public var amountPaid: Int
    public var amountDue: Int
    public var currency: String

    public init(_ object: JSONValue) throws {
        guard let id = object["id"].string else { throw StripeObjectError.missing("invoice id") }
        self.id = id
        customer = object["customer"].id
        subscription = object["subscription"].id ?? object["parent"]["subscription_details"]["subscription"].id
        billingReason = object["billing_reason"].string
        amountPaid = Int(object["amount_paid"].int ?? 0)
        amountDue = Int(object["amount_due"].int ?? 0)
        currency = object["currency"].string ?? "gbp"
    }
}
