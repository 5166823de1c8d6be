import Foundation
import Logging
import ServiceKit

/// Prunes expired counters, OAuth states, links and sessions, and audit entries past their
/// retention, every minute, on every replica (deleting twice is harmless). Nothing wakes it:
/// rows only become prunable with time.
enum IdentityHousekeeping {
    static func worker(counters: AttemptCounters, auditRetentionDays: Int, logger: Logger, interval: Duration = .seconds(60)) -> DrainingWorker {
        DrainingWorker("identity-housekeeping", idle: interval, backoff: interval, logger: logger) {
            let pruned = try await counters.prune(now: Date(), auditRetentionDays: auditRetentionDays)
            if pruned > 0 { logger.debug("pruned expired throttle counters, OAuth states, links, sessions and old audit entries", metadata: ["rows": "\(pruned)"]) }
            return false
        }
    }
}
