/// How a consumer retries a failing event: through the retry tiers of the topology (queues whose
/// messages wait their delay, then return to the consumer's own queue), then to the dead-letter
/// queue after `maxAttempts`.
public struct RetryPolicy: Sendable, Equatable {
    /// The tiers' delays in milliseconds, as declared by the topology.
    public var delays: [Int]
    /// Attempts in all, the first included, before an event is dead-lettered.
    public var maxAttempts: Int

    public static let `default` = RetryPolicy(delays: [1_000, 10_000, 60_000], maxAttempts: 5)

    public init(delays: [Int], maxAttempts: Int) {
        precondition(!delays.isEmpty && maxAttempts >= 1)
        self.delays = delays
        self.maxAttempts = maxAttempts
    }

    /// What to do after attempt number `attempt` (1 for the first) failed.
    public enum Decision: Sendable, Equatable {
        case retry(afterMilliseconds: Int)
        case deadLetter
    }

    /// Backoff across tiers: the first retry waits the shortest delay, each later one the next,
    /// the last tier repeating.
    public func decision(afterFailedAttempt attempt: Int) -> Decision {
        guard attempt < maxAttempts else { return .deadLetter }
        return .retry(afterMilliseconds: delays[min(max(attempt - 1, 0), delays.count - 1)])
    }

    /// Parses `1000,10000,60000`.
    public static func delays(from text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.compactMap { $0 }
    }
}

import Foundation
