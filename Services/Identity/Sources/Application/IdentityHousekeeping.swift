import Foundation
import Logging
import ServiceKit

/// Prunes expired counters, OAuth states and links every minute, on every replica (deleting
/// twice is harmless). Nothing wakes it: rows only become prunable with time.
enum IdentityHousekeeping {
    static func worker(counters: AttemptCounters, logger: Logger, interval: Duration = .seconds(60)) -> DrainingWorker {
        DrainingWorker("identity-housekeeping", idle: interval, backoff: interval, logger: logger) {
            let pruned = try await counters.prune(now: Date())
            if pruned > 0 { logger.debug("pruned expired throttle counters, OAuth states and links", metadata: ["rows": "\(pruned)"]) }
            return false
        }
    }
}
