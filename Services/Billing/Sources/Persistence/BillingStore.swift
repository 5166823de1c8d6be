import Contracts
import Database
import Foundation
import Logging
import ServiceKit

/// Subscriptions and entitlements in the `billing` schema. Every Stripe event is recorded and
/// applied in one transaction with the events it causes.
public struct BillingStore: Sendable {
    let database: DatabasePool
    let catalogue: PriceCatalogue
    let logger: Logger
    /// Whether an API key lets billing read subscriptions back from Stripe.
    let canRefresh: Bool

    public init(database: DatabasePool, catalogue: PriceCatalogue, canRefresh: Bool = false, logger: Logger) {
        self.database = database
        self.catalogue = catalogue
        self.canRefresh = canRefresh
        self.logger = logger
    }

    /// What became of a webhook event.
    public enum Outcome: String, Sendable, Equatable {
        case applied, duplicate, stale, ignored
    }

    /// An event about a subscription billing has not seen yet (Stripe delivers out of order):
    /// nothing is recorded, and the webhook answers so that Stripe sends it again later.
    public struct NotYetKnown: Error, Equatable {
        public let subscription: String
    }

    // MARK: Webhooks

    public func process(_ event: StripeEvent, payload: String, now: Date) async throws -> Outcome {
        let catalogue = self.catalogue
        let canRefresh = self.canRefresh
        return try await database.transaction { connection in
            let fresh = try connection.execute(
                """
                INSERT INTO stripe_events (id, type, created, livemode, outcome, payload)
                VALUES (\(event.id), \(event.type), \(event.created), \(event.livemode), 'pending', \(JSONB(payload)))
                ON CONFLICT (id) DO NOTHING
                """
            ).affectedRows == 1
            guard fresh else { return .duplicate }
            let outcome: Outcome
            switch event.type {
            case "checkout.session.completed":
                outcome = try Self.checkoutCompleted(event, on: connection)
            case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
                outcome = try Self.subscriptionChanged(event, catalogue: catalogue, canRefresh: canRefresh, now: now, on: connection)
            case "invoice.paid", "invoice.payment_failed":
                outcome = try Self.invoice(event, now: now, on: connection)
            case "customer.subscription.trial_will_end":
                outcome = try Self.trialWillEnd(event, on: connection)
            default:
                outcome = .ignored
            }
            try connection.execute("UPDATE stripe_events SET outcome = \(outcome.rawValue) WHERE id = \(event.id)")
            return outcome
        }
    }

    static func checkoutCompleted(_ event: StripeEvent, on connection: PostgresConnection) throws -> Outcome {
        let session = event.object
        guard let customer = session["customer"].id,
            let userID = Linking.checkoutUser(clientReference: session["client_reference_id"].string, metadata: session["metadata"]["userId"].string)
        else { return .ignored }
        if try Tombstones.isDeleted(userID, on: connection) { return .ignored }
        try link(userID: userID, customer: customer, on: connection)
        // A subscription seen before its checkout gets its user now.
        let orphans = try connection.query(
            "SELECT stripe_subscription_id FROM subscriptions WHERE stripe_customer_id = \(customer) AND user_id IS NULL AND cancel_requested_at IS NULL FOR UPDATE")
        for orphan in orphans {
            try attach(userID: userID, subscription: try orphan.decode("stripe_subscription_id"), on: connection)
            try publishSubscription(try orphan.decode("stripe_subscription_id"), kind: .updated, on: connection)
        }
        try recompute(userID, reason: "subscription", on: connection)
        return .applied
    }

    static func link(userID: UUID, customer: String, on connection: PostgresConnection) throws {
        try connection.execute(
            "INSERT INTO customers (user_id, stripe_customer_id) VALUES (\(userID), \(customer)) ON CONFLICT DO NOTHING")
    }

    /// Gives a subscription its user; an older subscription of the same user is detached (kept as
    /// a record), since a user has one.
    static func attach(userID: UUID, subscription: String, on connection: PostgresConnection) throws {
        try connection.execute(
            "UPDATE subscriptions SET user_id = NULL, updated_at = now() WHERE user_id = \(userID) AND stripe_subscription_id <> \(subscription)")
        try connection.execute(
            "UPDATE subscriptions SET user_id = \(userID), version = version + 1, updated_at = now() WHERE stripe_subscription_id = \(subscription)")
    }

    /// The user of a Stripe customer: billing's own record, else the subscription's metadata.
    static func user(customer: String, metadata: String?, on connection: PostgresConnection) throws -> UUID? {
        let recorded = try connection.query("SELECT user_id FROM customers WHERE stripe_customer_id = \(customer)").first?.decode("user_id", as: UUID.self)
        switch Linking.customerUser(recorded: recorded, metadata: metadata) {
        case .recorded(let userID):
            return userID
        case .metadata(let userID):
            if try Tombstones.isDeleted(userID, on: connection) { return nil }
            try link(userID: userID, customer: customer, on: connection)
            return userID
        case .unknown:
            return nil
        }
    }

    static func subscriptionChanged(
        _ event: StripeEvent, catalogue: PriceCatalogue, canRefresh: Bool = false, now: Date, on connection: PostgresConnection
    ) throws -> Outcome {
        let subscription = try StripeSubscription(event.object)
        let existing = try connection.query(
            "SELECT status, stripe_event_created, user_id FROM subscriptions WHERE stripe_subscription_id = \(subscription.id) FOR UPDATE"
        ).first
        let applied = try existing?.decode("stripe_event_created", as: Int64.self)
        switch StripeOrdering.judge(incoming: event.created, applied: applied, canReadBack: canRefresh) {
        case .stale:
            return .stale
        case .apply(let readBack):
            if readBack {
                try connection.execute("UPDATE subscriptions SET refresh_requested_at = now() WHERE stripe_subscription_id = \(subscription.id)")
            }
        }
        let status = SubscriptionStatusRule.status(eventType: event.type, stripeStatus: subscription.status)
        let price = subscription.priceID.flatMap(catalogue.price(id:))
        if subscription.priceID != nil, price == nil {
            Logger(label: "syllabus.billing").error("subscription with a price missing from the catalogue", metadata: ["price": "\(subscription.priceID ?? "")"])
        }
        let previousStatus = try existing.map { SubscriptionStatus(rawValue: try $0.decode("status", as: String.self)) }
        let cancelledAt = SubscriptionStatusRule.cancelledAt(status: status, canceledAt: subscription.canceledAt, eventCreated: event.created)
        try connection.execute(
            """
            INSERT INTO subscriptions (
                id, stripe_customer_id, stripe_subscription_id, status, tier, billing_interval, price_id, amount, currency,
                current_period_start, current_period_end, cancel_at_period_end, cancelled_at, stripe_event_created)
            VALUES (
                \(UUIDv7.make(at: now)), \(subscription.customer), \(subscription.id), \(status.rawValue), \(price?.tier.rawValue),
                \(price?.interval.rawValue), \(subscription.priceID), \(price?.amount), \(catalogue.currency),
                \(subscription.currentPeriodStart), \(subscription.currentPeriodEnd), \(subscription.cancelAtPeriodEnd), \(cancelledAt), \(event.created))
            ON CONFLICT (stripe_subscription_id) DO UPDATE SET
                status = excluded.status, tier = excluded.tier, billing_interval = excluded.billing_interval,
                price_id = excluded.price_id, amount = excluded.amount, currency = excluded.currency,
                current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
                cancel_at_period_end = excluded.cancel_at_period_end,
                cancelled_at = coalesce(subscriptions.cancelled_at, excluded.cancelled_at),
                stripe_event_created = excluded.stripe_event_created,
                version = subscriptions.version + 1, updated_at = now()
            WHERE subscriptions.stripe_event_created <= excluded.stripe_event_created
            """)
        // A concurrent newer event got there first (the row did not exist when this one looked).
        if existing == nil, try connection.query(
            "SELECT 1 FROM subscriptions WHERE stripe_subscription_id = \(subscription.id) AND stripe_event_created > \(event.created)").first != nil
        {
            return .stale
        }
        var userID = try existing?.decode("user_id", as: UUID?.self)
        if userID == nil, let found = try user(customer: subscription.customer, metadata: subscription.metadataUserID, on: connection) {
            let live = try connection.query(
                "SELECT 1 FROM subscriptions WHERE user_id = \(found) AND stripe_subscription_id <> \(subscription.id) AND status <> 'CANCELED'").first
            if Linking.attaches(status: status, userHasAnotherLiveSubscription: live != nil) {
                try attach(userID: found, subscription: subscription.id, on: connection)
                userID = found
            }
        }
        try publishSubscription(subscription.id, kind: SubscriptionEventKind.of(status, previous: previousStatus), on: connection)
        if let userID { try recompute(userID, reason: "subscription", on: connection) }
        return .applied
    }

    static func invoice(_ event: StripeEvent, now: Date, on connection: PostgresConnection) throws -> Outcome {
        let invoice = try StripeInvoice(event.object)
        guard let subscriptionID = invoice.subscription else { return .ignored }
        guard let row = try connection.query(
            "SELECT user_id, payment_failed_at FROM subscriptions WHERE stripe_subscription_id = \(subscriptionID) FOR UPDATE"
        ).first else { throw NotYetKnown(subscription: subscriptionID) }
        guard let userID = try row.decode("user_id", as: UUID?.self) else { return .ignored } // detached: its user is gone
        let time = Date(timeIntervalSince1970: Double(event.created))
        if event.type == "invoice.paid" {
            let version = try connection.query(
                "UPDATE subscriptions SET payment_failed_at = NULL, version = version + 1, updated_at = now() WHERE stripe_subscription_id = \(subscriptionID) RETURNING version"
            ).first!.decode("version", as: Int64.self)
            try Outbox.enqueue(
                CloudEvent(
                    BillingPaymentSucceededV1(
                        userId: userID.lowercased, subscriptionId: subscriptionID, invoiceId: invoice.id, amount: invoice.amountPaid,
                        currency: invoice.currency, isRenewal: invoice.billingReason == "subscription_cycle", paidAt: time),
                    sequence: version, time: now),
                on: connection)
        } else {
            // Set once, on the first failure of a spell; the final warning is timed from it.
            let failedAt = try row.decode("payment_failed_at", as: Date?.self) ?? time
            let version = try connection.query(
                """
                UPDATE subscriptions SET payment_failed_at = \(failedAt), version = version + 1, updated_at = now()
                WHERE stripe_subscription_id = \(subscriptionID) RETURNING version
                """
            ).first!.decode("version", as: Int64.self)
            try Outbox.enqueue(
                CloudEvent(
                    BillingPaymentFailedV1(
                        userId: userID.lowercased, subscriptionId: subscriptionID, invoiceId: invoice.id, amount: invoice.amountDue,
                        currency: invoice.currency, paymentFailedAt: failedAt),
                    sequence: version, time: now),
                on: connection)
        }
        try publishSubscription(subscriptionID, kind: .updated, on: connection)
        return .applied
    }

    static func trialWillEnd(_ event: StripeEvent, on connection: PostgresConnection) throws -> Outcome {
        let subscription = try StripeSubscription(event.object)
        guard let row = try connection.query("SELECT user_id, version FROM subscriptions WHERE stripe_subscription_id = \(subscription.id)").first
        else { throw NotYetKnown(subscription: subscription.id) }
        guard let userID = try row.decode("user_id", as: UUID?.self), let trialEnd = subscription.trialEnd else { return .ignored }
        try Outbox.enqueue(
            CloudEvent(
                BillingTrialEndingV1(userId: userID.lowercased, subscriptionId: subscription.id, trialEnd: trialEnd),
                sequence: try row.decode("version", as: Int64.self)),
            on: connection)
        return .applied
    }

    static func state(_ row: Row) throws -> SubscriptionState {
        SubscriptionState(
            subscriptionId: try row.decode("stripe_subscription_id"), userId: try row.decode("user_id", as: UUID?.self)?.lowercased,
            status: SubscriptionStatus(rawValue: try row.decode("status")), tier: try row.decode("tier", as: String?.self).map(Tier.init(rawValue:)),
            interval: try row.decode("billing_interval", as: String?.self).map(BillingInterval.init(rawValue:)), amount: try row.decode("amount", as: Int?.self),
            currency: try row.decode("currency", as: String?.self), currentPeriodStart: try row.decode("current_period_start", as: Date?.self),
            currentPeriodEnd: try row.decode("current_period_end", as: Date?.self), cancelAtPeriodEnd: try row.decode("cancel_at_period_end"),
            cancelledAt: try row.decode("cancelled_at", as: Date?.self), paymentFailedAt: try row.decode("payment_failed_at", as: Date?.self))
    }

    static let subscriptionColumns = """
        stripe_subscription_id, user_id, status, tier, billing_interval, amount, currency, current_period_start, current_period_end,
        cancel_at_period_end, cancelled_at, payment_failed_at, version
        """

    static func publishSubscription(_ id: String, kind: SubscriptionEventKind, on connection: PostgresConnection) throws {
        guard let row = try connection.query("SELECT \(unsafeRaw: subscriptionColumns) FROM subscriptions WHERE stripe_subscription_id = \(id)").first
        else { return }
        let state = try state(row)
        let version = try row.decode("version", as: Int64.self)
        switch kind {
        case .activated: try Outbox.enqueue(CloudEvent(BillingSubscriptionActivatedV1(subscription: state), sequence: version), on: connection)
        case .updated: try Outbox.enqueue(CloudEvent(BillingSubscriptionUpdatedV1(subscription: state), sequence: version), on: connection)
        case .canceled: try Outbox.enqueue(CloudEvent(BillingSubscriptionCanceledV1(subscription: state), sequence: version), on: connection)
        }
    }

    /// Applies a subscription read back from Stripe, as of the event that asked for it. If a
    /// newer event has arrived since the read was asked for, the snapshot may be older than it:
    /// nothing is applied, and the subscription is read again next round.
    public func applyRefreshed(_ object: JSONValue, asOf due: RefreshDue, now: Date) async throws {
        let catalogue = self.catalogue
        try await database.transaction { connection in
            guard object["id"].string == due.id,
                let row = try connection.query(
                    "SELECT stripe_event_created FROM subscriptions WHERE stripe_subscription_id = \(due.id) FOR UPDATE").first,
                StripeOrdering.readBackStillCurrent(askedAt: due.eventCreated, applied: try row.decode("stripe_event_created", as: Int64.self))
            else { return }
            let event = try StripeEvent(json: .object([
                "id": .string("evt_refresh"), "type": .string("customer.subscription.updated"), "created": .number(Double(due.eventCreated)),
                "livemode": .bool(false), "data": .object(["object": object]),
            ]))
            _ = try Self.subscriptionChanged(event, catalogue: catalogue, now: now, on: connection)
            try connection.execute("UPDATE subscriptions SET refresh_requested_at = NULL WHERE stripe_subscription_id = \(due.id)")
        }
    }

    /// A subscription waiting to be read back from Stripe, and the time of the newest event
    /// applied to it when it was listed.
    public struct RefreshDue: Sendable {
        public var id: String
        public var eventCreated: Int64
    }

    /// Subscriptions of deleted users still to be cancelled at Stripe.
    public func cancellationsDue(limit: Int = 20) async throws -> [String] {
        try await database.query(
            "SELECT stripe_subscription_id FROM subscriptions WHERE cancel_requested_at IS NOT NULL AND cancel_sent_at IS NULL LIMIT \(limit)"
        ).map { try $0.decode("stripe_subscription_id") }
    }

    /// Stripe has cancelled the subscription.
    public func cancellationSent(_ id: String) async throws {
        try await database.execute("UPDATE subscriptions SET cancel_sent_at = now() WHERE stripe_subscription_id = \(id)")
    }

    /// Subscriptions waiting to be read back from Stripe.
    public func refreshesDue(limit: Int = 20) async throws -> [RefreshDue] {
        try await database.query(
            """
            SELECT stripe_subscription_id, stripe_event_created FROM subscriptions WHERE refresh_requested_at IS NOT NULL
            ORDER BY refresh_requested_at LIMIT \(limit)
            """
        ).map { RefreshDue(id: try $0.decode("stripe_subscription_id"), eventCreated: try $0.decode("stripe_event_created")) }
    }

    // MARK: Entitlements

    /// Decides the user's entitlement again and publishes it when it changed.
    static func recompute(_ userID: UUID, reason: String, on connection: PostgresConnection) throws {
        try connection.execute("INSERT INTO entitlements (user_id) VALUES (\(userID)) ON CONFLICT DO NOTHING")
        let current = try connection.query(
            "SELECT access_override, has_access, tier, published FROM entitlements WHERE user_id = \(userID) FOR UPDATE").first!
        let subscription = try connection.query("SELECT status, tier FROM subscriptions WHERE user_id = \(userID)").first
        let decided = Entitlement.decide(
            accessOverride: try current.decode("access_override"),
            status: try subscription.map { SubscriptionStatus(rawValue: try $0.decode("status", as: String.self)) },
            tier: try subscription.flatMap { try $0.decode("tier", as: String?.self) }.map(Tier.init(rawValue:)))
        let published = try current.decode("published", as: Bool.self)
            ? Entitlement(hasAccess: try current.decode("has_access"), tier: Tier(rawValue: try current.decode("tier", as: String.self))) : nil
        guard decided.mustPublish(over: published) else { return }
        let version = try connection.query(
            """
            UPDATE entitlements SET has_access = \(decided.hasAccess), tier = \(decided.tier.rawValue), published = true,
                version = version + 1, updated_at = now()
            WHERE user_id = \(userID) RETURNING version
            """
        ).first!.decode("version", as: Int64.self)
        try Outbox.enqueue(
            CloudEvent(
                BillingEntitlementChangedV1(userId: userID.lowercased, hasAccess: decided.hasAccess, tier: decided.tier, reason: reason),
                sequence: version),
            on: connection)
    }

    /// An admin's access override, from identity (newest wins).
    static func applyOverride(_ event: CloudEvent<IdentityUserAccessOverrideChangedV1>, on connection: PostgresConnection) throws {
        guard let userID = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId") }
        if try Tombstones.isDeleted(userID, on: connection) { return }
        guard try AggregateVersions.advance("access_override", id: userID.lowercased, to: event.sequenceNumber, on: connection) else { return }
        try connection.execute(
            """
            INSERT INTO entitlements (user_id, access_override) VALUES (\(userID), \(event.data.accessOverride))
            ON CONFLICT (user_id) DO UPDATE SET access_override = excluded.access_override
            """)
        try recompute(userID, reason: "access_override", on: connection)
    }

    /// Empties the payloads of Stripe events received before `cutoff` (they may carry the person:
    /// metadata, a checkout's email); the rows stay, so a redelivered event is still a duplicate.
    @discardableResult
    public func forgetPayloads(receivedBefore cutoff: Date) async throws -> Int {
        try await database.inBatches(of: 1000) { limit in
            """
            UPDATE stripe_events SET payload = '{}' WHERE id = ANY(ARRAY(
                SELECT id FROM stripe_events WHERE received_at < \(cutoff) AND payload <> '{}' LIMIT \(limit)))
            """
        }
    }

    /// A deleted user: no access from now on, the Stripe subscription to be cancelled, the
    /// financial records kept but detached from the person.
    static func forget(_ userID: UUID, on connection: PostgresConnection) throws {
        let had = try connection.query("SELECT has_access, version FROM entitlements WHERE user_id = \(userID)").first
        try connection.execute(
            """
            UPDATE subscriptions SET user_id = NULL,
                cancel_requested_at = CASE WHEN status <> 'CANCELED' THEN now() ELSE cancel_requested_at END,
                version = version + 1, updated_at = now()
            WHERE user_id = \(userID)
            """)
        let customers = try connection.query("SELECT stripe_customer_id FROM customers WHERE user_id = \(userID)").map { try $0.decode("stripe_customer_id", as: String.self) }
        try connection.execute("DELETE FROM customers WHERE user_id = \(userID)")
        try connection.execute("DELETE FROM entitlements WHERE user_id = \(userID)")
        try connection.execute("DELETE FROM aggregate_versions WHERE aggregate = 'access_override' AND aggregate_id = \(userID.lowercased)")
        // Stripe's payloads may carry the person (metadata, checkout email): keep the record of
        // the event, drop its body.
        try connection.execute(
            "UPDATE stripe_events SET payload = '{}' WHERE payload::text LIKE \("%" + userID.lowercased + "%") OR payload::text LIKE ANY(\(array: customers.map { "%" + $0 + "%" }))")
        if let had, try had.decode("has_access", as: Bool.self) {
            try Outbox.enqueue(
                CloudEvent(BillingEntitlementChangedV1(userId: userID.lowercased, hasAccess: false, tier: .free, reason: "deletion"), sequence: try had.decode("version", as: Int64.self) + 1),
                on: connection)
        }
    }

    // MARK: Reading

    public struct Overview: Sendable {
        public var subscription: SubscriptionState?
        public var hasAccess: Bool
        public var tier: Tier
    }

    public func overview(_ userID: UUID) async throws -> Overview {
        try await database.withConnection { connection in
            let subscription = try connection.query("SELECT \(unsafeRaw: Self.subscriptionColumns) FROM subscriptions WHERE user_id = \(userID)")
                .first.map(Self.state)
            let entitlement = try connection.query("SELECT has_access, tier FROM entitlements WHERE user_id = \(userID)").first
            return Overview(
                subscription: subscription, hasAccess: try entitlement?.decode("has_access") ?? false,
                tier: try entitlement.map { Tier(rawValue: try $0.decode("tier")) } ?? .free)
        }
    }

    public func customer(of userID: UUID) async throws -> String? {
        try await database.query("SELECT stripe_customer_id FROM customers WHERE user_id = \(userID)").first?.decode("stripe_customer_id")
    }

    public func saveCustomer(_ customer: String, for userID: UUID) async throws -> String {
        try await database.transaction { connection in
            try Self.link(userID: userID, customer: customer, on: connection)
            // Stripe never gives two users one customer; if it seems to, refuse rather than mix them.
            guard let row = try connection.query("SELECT stripe_customer_id FROM customers WHERE user_id = \(userID)").first else {
                throw CustomerTaken(customer: customer)
            }
            return try row.decode("stripe_customer_id")
        }
    }

    /// Stripe named a customer that belongs to another user.
    public struct CustomerTaken: Error, Equatable {
        public let customer: String
    }

    public struct Metrics: Codable, Sendable, Equatable {
        public var mrr: Int
        public var currency: String
        public var active: Int
        public var trialing: Int
        public var pastDue: Int
        public var cancelledThisMonth: Int
    }

    public func metrics(now: Date) async throws -> Metrics {
        let catalogue = self.catalogue
        return try await database.withConnection { connection in
            let rows = try connection.query("SELECT status, billing_interval, amount FROM subscriptions WHERE amount IS NOT NULL")
            let subscriptions = try rows.compactMap { row -> MRR.Line? in
                // A subscription whose interval is not one this version knows is not counted at all.
                guard let interval = try row.decode("billing_interval", as: String?.self).map(BillingInterval.init(rawValue:)), interval.isKnown
                else { return nil }
                return MRR.Line(status: SubscriptionStatus(rawValue: try row.decode("status")), interval: interval, amount: try row.decode("amount"))
            }
            func count(_ status: SubscriptionStatus) -> Int { subscriptions.filter { $0.status == status }.count }
            let cancelled = try connection.query(
                "SELECT count(*) AS n FROM subscriptions WHERE cancelled_at >= date_trunc('month', \(now)::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
            ).first!.decode("n", as: Int.self)
            return Metrics(
                mrr: MRR.compute(subscriptions).mrr, currency: catalogue.currency,
                active: count(.active), trialing: count(.trialing), pastDue: count(.pastDue), cancelledThisMonth: cancelled)
        }
    }
}
