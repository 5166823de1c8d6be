import Database
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// Cancels at Stripe the subscriptions of deleted users, outside any request or event handler:
/// rows marked by the deletion are sent, with backoff, until Stripe has taken them.
final class StripeCanceller: Service, Sendable {
    let database: DatabasePool
    let stripe: StripeClient
    let logger: Logger

    init(database: DatabasePool, stripe: StripeClient, logger: Logger) {
        self.database = database
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
                } catch {
                    self.logger.warning("could not cancel at Stripe yet", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }
}
