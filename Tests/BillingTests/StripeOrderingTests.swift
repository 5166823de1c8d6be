import Contracts
import Foundation
import ServiceKit
import Testing

@testable import Billing

/// The ordering and linking rules of Stripe's events, without a database.
@Suite struct StripeOrderingTests {
    @Test func anOlderEventIsStaleAndATieIsReadBack() {
        #expect(StripeOrdering.judge(incoming: 100, applied: nil, canReadBack: true) == .apply(readBack: false), "the first event of a subscription")
        #expect(StripeOrdering.judge(incoming: 101, applied: 100, canReadBack: true) == .apply(readBack: false))
        #expect(StripeOrdering.judge(incoming: 99, applied: 100, canReadBack: true) == .stale)
        #expect(StripeOrdering.judge(incoming: 100, applied: 100, canReadBack: true) == .apply(readBack: true), "within one second the later arrival wins, and is checked")
        #expect(StripeOrdering.judge(incoming: 100, applied: 100, canReadBack: false) == .apply(readBack: false), "without an API key nothing is read back")
    }

    @Test func aReadBackIsAppliedOnlyIfNothingNewerCameSince() {
        #expect(StripeOrdering.readBackStillCurrent(askedAt: 100, applied: 100))
        #expect(!StripeOrdering.readBackStillCurrent(askedAt: 100, applied: 105))
    }

    @Test func theStatusOfASubscriptionEvent() {
        #expect(SubscriptionStatusRule.status(eventType: "customer.subscription.updated", stripeStatus: "past_due") == .pastDue)
        #expect(SubscriptionStatusRule.status(eventType: "customer.subscription.deleted", stripeStatus: "active") == .canceled, "deleted always ends it")
        #expect(SubscriptionStatusRule.status(eventType: "customer.subscription.updated", stripeStatus: "something_new") == .incomplete)
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(SubscriptionStatusRule.cancelledAt(status: .canceled, canceledAt: nil, eventCreated: 1_800_000_000) == at)
        #expect(SubscriptionStatusRule.cancelledAt(status: .canceled, canceledAt: at.addingTimeInterval(-60), eventCreated: 1_800_000_000) == at.addingTimeInterval(-60))
        #expect(SubscriptionStatusRule.cancelledAt(status: .active, canceledAt: at, eventCreated: 1_800_000_000) == nil)
    }

    @Test(arguments: [
        (SubscriptionStatus.active, SubscriptionStatus?.none, SubscriptionEventKind.activated),
        (.trialing, .incomplete, .activated),
        (.active, .unpaid, .activated),
        (.active, .canceled, .activated),
        (.active, .trialing, .updated),
        (.active, .pastDue, .updated),
        (.pastDue, .active, .updated),
        (.pastDue, nil, .updated),
        (.canceled, .active, .canceled),
        (.canceled, nil, .canceled),
        (.canceled, .canceled, .updated),
        (.incomplete, nil, .updated),
    ])
    func whichSubscriptionEventAChangeAnnounces(status: SubscriptionStatus, previous: SubscriptionStatus?, kind: SubscriptionEventKind) {
        #expect(SubscriptionEventKind.of(status, previous: previous) == kind)
    }

    @Test func customersAndSubscriptionsAreLinkedToUsers() {
        let user = UUID()
        let other = UUID()
        #expect(Linking.checkoutUser(clientReference: user.uuidString, metadata: other.uuidString) == user)
        #expect(Linking.checkoutUser(clientReference: nil, metadata: other.uuidString) == other)
        #expect(Linking.checkoutUser(clientReference: "not-a-user", metadata: nil) == nil)
        #expect(Linking.customerUser(recorded: user, metadata: other.uuidString) == .recorded(user), "billing's own record wins")
        #expect(Linking.customerUser(recorded: nil, metadata: other.uuidString) == .metadata(other))
        #expect(Linking.customerUser(recorded: nil, metadata: "x") == .unknown)
        #expect(Linking.attaches(status: .active, userHasAnotherLiveSubscription: false))
        #expect(Linking.attaches(status: .active, userHasAnotherLiveSubscription: true), "a new live subscription replaces the old")
        #expect(!Linking.attaches(status: .canceled, userHasAnotherLiveSubscription: true), "a late end of an old one never displaces a live one")
        #expect(Linking.attaches(status: .canceled, userHasAnotherLiveSubscription: false))
    }

    @Test func anEntitlementIsAnnouncedWhenItChanges() {
        let pro = Entitlement(hasAccess: true, tier: .pro)
        #expect(pro.mustPublish(over: nil), "never announced")
        #expect(!pro.mustPublish(over: pro))
        #expect(pro.mustPublish(over: Entitlement.none))
        #expect(Entitlement.none.mustPublish(over: nil), "a first decision is announced even when it is no access")
        #expect(Entitlement.decide(accessOverride: false, status: .active, tier: .unknown("gold")) == .none, "a tier this build does not know opens nothing")
        #expect(Entitlement.decide(accessOverride: false, status: .unknown("PAUSED"), tier: .pro) == .none)
    }

    @Test func checkoutNeedsAPlanOnSaleAndNoLiveSubscription() throws {
        let plan = try CheckoutRules.plan(tier: "starter", interval: "ANNUAL")
        #expect(plan.0 == .starter && plan.1 == .annual)
        let refused = #expect(throws: DomainError.self) { try CheckoutRules.plan(tier: "free", interval: "MONTHLY") }
        #expect(refused?.code == "validation_failed")
        #expect(refused?.errors.map(\.field) == ["tier"])
        #expect(CheckoutRules.mayCheckOut(currentStatus: nil))
        #expect(CheckoutRules.mayCheckOut(currentStatus: .canceled))
        #expect(!CheckoutRules.mayCheckOut(currentStatus: .pastDue), "still in grace: managed in the portal")
    }
}
