import Database
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// Billing's calls to Stripe that must not happen inside a request or an event handler:
/// cancelling the subscriptions of deleted users, and reading back subscriptions whose events
/// came in the same second. Rows marked for either are sent every few seconds until Stripe has
/// answered.
final class StripeWorker: Service, Sendable {
    let database: DatabasePool
    let store: BillingStore
    let stripe: StripeClient
    let logger: Logger

    init(database: DatabasePool, store: BillingStore, stripe: StripeClient, logger: Logger) {
        self.database = database
        self.store = store
        self.stripe = stripe
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let due = try await self.database.query(
                        "SELECT stripe_subscription_id FROM subscriptions WHERE cancel_requested_at IS NOT NULL AND cancel_sent_at IS NULL LIMIT 20")
                    for row in due {
                        let id = try row.decode("stripe_subscription_id", as: String.self)
                        do {
                            try await self.stripe.cancelSubscription(id)
                            try await self.database.execute("UPDATE subscriptions SET cancel_sent_at = now() WHERE stripe_subscription_id = \(id)")
                            self.logger.info("cancelled a deleted user's subscription at Stripe", metadata: ["subscription": "\(id)"])
                        } catch {
                            // One refusal does not hold up the others; it is tried again next round.
                            self.logger.warning("could not cancel at Stripe yet", metadata: ["subscription": "\(id)", "error": "\(error)"])
                        }
                    }
                    for due in try await self.store.refreshesDue() {
                        do {
                            try await self.store.applyRefreshed(try await self.stripe.retrieveSubscription(due.id), asOf: due, now: Date())
                            self.logger.info("read a subscription back from Stripe after a tie", metadata: ["subscription": "\(due.id)"])
                        } catch {
                            self.logger.warning("could not read a subscription from Stripe yet", metadata: ["subscription": "\(due.id)", "error": "\(error)"])
                        }
                    }
                } catch {
                    self.logger.warning("could not reach the database for Stripe work", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }
}
