import Foundation
import Logging
import ServiceKit

/// Billing's calls to Stripe that must not happen inside a request or an event handler:
/// cancelling the subscriptions of deleted users, and reading back subscriptions whose events
/// came in the same second. Rows marked for either are sent every few seconds until Stripe has
/// answered.
struct StripeWorker: Sendable {
    let store: BillingStore
    let stripe: StripeClient
    let logger: Logger

    /// Nothing wakes it but time: its work is marked by webhooks and deletions, and Stripe is not
    /// to be called more often than every few seconds.
    var service: DrainingWorker {
        DrainingWorker("stripe", idle: .seconds(5), backoff: .seconds(5), logger: logger) { try await step() }
    }

    /// One round over what is due. A refusal by Stripe does not hold up the others: it is tried
    /// again next round. Never asks for another round at once.
    func step() async throws -> Bool {
        for id in try await store.cancellationsDue() {
            do {
                try await stripe.cancelSubscription(id)
                try await store.cancellationSent(id)
                logger.info("cancelled a deleted user's subscription at Stripe", metadata: ["subscription": "\(id)"])
            } catch {
                logger.warning("could not cancel at Stripe yet", metadata: ["subscription": "\(id)", "error": "\(error)"])
            }
        }
        for due in try await store.refreshesDue() {
            do {
                try await store.applyRefreshed(try await stripe.retrieveSubscription(due.id), asOf: due, now: Date())
                logger.info("read a subscription back from Stripe after a tie", metadata: ["subscription": "\(due.id)"])
            } catch {
                logger.warning("could not read a subscription from Stripe yet", metadata: ["subscription": "\(due.id)", "error": "\(error)"])
            }
        }
        return false
    }
}
