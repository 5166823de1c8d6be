import Foundation
import ServiceKit

/// `POST /v1/analytics/events` as a use case: the batch checked by the rules, then counted
/// against the limits and recorded in one transaction.
struct Collecting: Sendable {
    let store: CollectStore
    let limits: RateLimits

    struct Result: Sendable {
        var accepted: Int
        var recorded: Int
    }

    func collect(_ batch: ClientEvents.Batch, user: UUID?, address: String, now: Date) async throws -> Result {
        let (session, events) = try ClientEvents.validate(batch, now: now)
        let recorded = try await store.record(events, session: session, user: user, address: address, now: now) { session, address in
            limits.check(session: session, address: address, now: now)
        }
        return Result(accepted: events.count, recorded: recorded)
    }
}
