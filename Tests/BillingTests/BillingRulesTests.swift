import Contracts
import Foundation
import Testing

@testable import Billing
import ServiceKit

@Suite struct WebhookSignatureTests {
    let secret = "whsec_test_secret"
    let body = Array(#"{"id":"evt_1","object":"event"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func acceptsWhatStripeSigns() {
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: 1_800_000_000)
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: now) == nil)
    }

    @Test func knownVector() {
        // HMAC-SHA256("whsec_test_secret", "1800000000.{…}"), computed independently with openssl.
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: 1_800_000_000)
        #expect(header == "t=1800000000,v1=\(Self.opensslVector)")
    }
    static let opensslVector = "d0ffffa7434b9a227ebe60bf97ad6137fbc31cbd39613e1ac0e4bc924c41fde7"

    @Test func anyOfSeveralV1Signatures() {
        let good = WebhookSignature.header(body: body, secret: secret, timestamp: 1_800_000_000).split(separator: ",")[1]
        let header = "t=1800000000,v1=\(String(repeating: "ab", count: 32)),\(good),v0=ignored"
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: now) == nil)
    }

    @Test func refusals() {
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: 1_800_000_000)
        #expect(WebhookSignature.verify(header: nil, body: body, secret: secret, now: now) == .missing)
        #expect(WebhookSignature.verify(header: "garbage", body: body, secret: secret, now: now) == .malformed)
        #expect(WebhookSignature.verify(header: "t=1800000000", body: body, secret: secret, now: now) == .malformed)
        #expect(WebhookSignature.verify(header: header, body: body + [32], secret: secret, now: now) == .mismatch, "the body was changed")
        #expect(WebhookSignature.verify(header: header, body: body, secret: "whsec_other", now: now) == .mismatch)
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: now.addingTimeInterval(301)) == .staleTimestamp)
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: now.addingTimeInterval(-301)) == .staleTimestamp)
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: now.addingTimeInterval(300)) == nil, "300 s is within")
    }
}

@Suite struct AccessRulesTests {
    @Test(arguments: [
        ("active", SubscriptionStatus.active), ("trialing", .trialing), ("past_due", .pastDue), ("unpaid", .unpaid),
        ("canceled", .canceled), ("incomplete_expired", .canceled), ("paused", .canceled), ("incomplete", .incomplete),
    ])
    func mapsStripeStatuses(stripe: String, expected: SubscriptionStatus) {
        #expect(SubscriptionStatus(stripe: stripe) == expected)
    }

    @Test func unknownStatusesAreNotGuessed() {
        #expect(SubscriptionStatus(stripe: "weird") == nil)
    }

    @Test(arguments: SubscriptionStatus.allCases)
    func onlyActiveTrialingAndPastDueGrantAccess(status: SubscriptionStatus) {
        let expected = status == .active || status == .trialing || status == .pastDue
        #expect(Entitlement.decide(accessOverride: false, status: status, tier: .starter) == (expected ? Entitlement(hasAccess: true, tier: .starter) : .none))
    }

    @Test func overrideBypassesEverythingAsPro() {
        #expect(Entitlement.decide(accessOverride: true, status: nil, tier: nil) == Entitlement(hasAccess: true, tier: .pro))
        #expect(Entitlement.decide(accessOverride: true, status: .canceled, tier: .starter) == Entitlement(hasAccess: true, tier: .pro))
        #expect(Entitlement.decide(accessOverride: false, status: nil, tier: nil) == .none)
        #expect(Entitlement.decide(accessOverride: false, status: .active, tier: nil) == .none, "a price outside the catalogue opens nothing")
    }

    @Test func mrrCountsActiveOnlyWithAnnualAsATwelfth() {
        #expect(MRR.compute([(.active, .monthly, 4900)]) == 4900)
        #expect(MRR.compute([(.active, .annual, 39900)]) == 3325)
        let mixed: [(status: SubscriptionStatus, interval: BillingInterval, amount: Int)] = [
            (.active, .monthly, 4900), (.active, .monthly, 4900), (.active, .annual, 39900), (.active, .monthly, 1900),
            (.active, .annual, 19000), (.active, .annual, 19000), (.trialing, .monthly, 4900), (.pastDue, .monthly, 4900),
            (.canceled, .annual, 39900), (.unpaid, .monthly, 1900),
        ]
        // 4900 + 4900 + 1900 + (39900 + 19000 + 19000) / 12 = 11700 + 6491.67 → 18192 (rounded once).
        #expect(MRR.compute(mixed) == 18192)
        #expect(MRR.compute([(.active, .annual, 19000)]) == 1583)
        #expect(MRR.compute([(.active, .annual, 19000), (.active, .annual, 19000)]) == 3167, "3166.67: summed before rounding")
    }

    @Test func catalogueParsesAndFindsPrices() throws {
        let catalogue = try #require(PriceCatalogue.parse("pro:MONTHLY:price_a:4900, starter:ANNUAL:price_b:19000", currency: "GBP"))
        #expect(catalogue.currency == "gbp")
        #expect(catalogue.price(id: "price_b") == Price(tier: .starter, interval: .annual, stripePriceID: "price_b", amount: 19000))
        #expect(catalogue.price(tier: .pro, interval: .monthly)?.stripePriceID == "price_a")
        #expect(PriceCatalogue.parse("free:MONTHLY:p:0", currency: "gbp") == nil)
        #expect(PriceCatalogue.parse("pro:WEEKLY:p:100", currency: "gbp") == nil)
        #expect(PriceCatalogue.parse("pro:MONTHLY:p:-1", currency: "gbp") == nil)
    }
}

@Suite struct StripeObjectTests {
    func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Data(text.utf8)) }

    @Test func subscriptionPeriodsFromEitherAPIShape() throws {
        let old = try StripeSubscription(json(#"""
            {"id":"sub_1","customer":"cus_1","status":"active","current_period_start":1800000000,"current_period_end":1802592000,
             "cancel_at_period_end":false,"items":{"data":[{"price":{"id":"price_pro_monthly"}}]},"metadata":{"userId":"u"}}
            """#))
        let new = try StripeSubscription(json(#"""
            {"id":"sub_1","customer":{"id":"cus_1","object":"customer"},"status":"active","cancel_at_period_end":true,
             "items":{"data":[{"price":{"id":"price_pro_monthly"},"current_period_start":1800000000,"current_period_end":1802592000}]}}
            """#))
        #expect(old.currentPeriodEnd == Date(timeIntervalSince1970: 1_802_592_000))
        #expect(new.currentPeriodEnd == old.currentPeriodEnd)
        #expect(new.currentPeriodStart == old.currentPeriodStart)
        #expect(new.customer == "cus_1", "expanded customer objects are read by id")
        #expect(old.priceID == "price_pro_monthly")
        #expect(new.cancelAtPeriodEnd)
        #expect(old.metadataUserID == "u")
        #expect(throws: StripeObjectError.self) { try StripeSubscription(json(#"{"id":"sub_1","status":"active"}"#)) }
    }

    @Test func invoiceSubscriptionFromEitherAPIShape() throws {
        let old = try StripeInvoice(json(#"{"id":"in_1","subscription":"sub_1","billing_reason":"subscription_cycle","amount_paid":4900,"currency":"gbp"}"#))
        let new = try StripeInvoice(json(#"{"id":"in_2","parent":{"subscription_details":{"subscription":"sub_1"}},"amount_due":4900}"#))
        #expect(old.subscription == "sub_1")
        #expect(new.subscription == "sub_1")
        #expect(old.billingReason == "subscription_cycle")
        #expect(new.amountDue == 4900)
    }

    @Test func eventsNeedTheirEnvelope() throws {
        let event = try StripeEvent(json: json(#"{"id":"evt_1","type":"invoice.paid","created":1800000000,"livemode":false,"data":{"object":{"id":"in_1"}}}"#))
        #expect(event.type == "invoice.paid")
        #expect(event.object["id"].string == "in_1")
        #expect(throws: StripeObjectError.self) { try StripeEvent(json: json(#"{"id":"evt_1","type":"x"}"#)) }
        #expect(try json("true") == .bool(true))
        #expect(try json("1") == .number(1))
    }
}
