import Foundation
import ServiceKit

/// How many client events are taken per minute: per session, and per client address whatever
/// sessions it claims (a session id is the caller's choice; its address is not).
public struct RateLimits: Sendable, Equatable {
    public var perSession: Int
    public var perAddress: Int

    public init(perSession: Int, perAddress: Int) {
        self.perSession = perSession
        self.perAddress = perAddress
    }

    /// Seconds until the next minute's window opens.
    public static func retryAfter(now: Date) -> Int {
        60 - Int(now.timeIntervalSince1970) % 60
    }

    /// Nothing when both counts of this minute, the batch included, are within their limits;
    /// otherwise the refusal, with when to try again.
    public func check(session used: Int, address usedByAddress: Int, now: Date) -> DomainError? {
        if used > perSession {
            return DomainError(
                .tooMany, code: "rate_limited", title: "Too many events from this session; send fewer, later", retryAfter: Self.retryAfter(now: now))
        }
        if usedByAddress > perAddress {
            return DomainError(
                .tooMany, code: "rate_limited", title: "Too many events from this address; send fewer, later", retryAfter: Self.retryAfter(now: now))
        }
        return nil
    }
}
