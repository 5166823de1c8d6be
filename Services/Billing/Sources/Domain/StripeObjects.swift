import Foundation

/// A JSON value, for reading Stripe's objects by path without a model per API version.
public indirect enum JSONValue: Sendable, Equatable, Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(parsing data: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public subscript(key: String) -> JSONValue {
        if case .object(let object) = self { return object[key] ?? .null }
        return .null
    }

    public subscript(index: Int) -> JSONValue {
        if case .array(let array) = self, array.indices.contains(index) { return array[index] }
        return .null
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var int: Int64? { if case .number(let value) = self, value == value.rounded() { Int64(value) } else { nil } }
    public var isNull: Bool { self == .null }
    /// An id that Stripe may also send expanded as an object with `id`.
    public var id: String? { string ?? self["id"].string }
    public var date: Date? { int.map { Date(timeIntervalSince1970: Double($0)) } }
}

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
