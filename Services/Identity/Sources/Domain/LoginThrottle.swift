import Foundation

/// Repeated failed sign-ins are slowed down per account (by email, so unknown addresses count
/// too) and per client address, within a sliding window.
public struct LoginThrottle: Sendable, Equatable {
    public var window: TimeInterval = 15 * 60
    public var perAccount = 5
    public var perAddress = 20

    public init() {}

    public func keys(email: String, address: String) -> [String] {
        ["email:" + EmailAddress.normalized(email), "addr:" + address]
    }

    /// Seconds to wait, or nil when the attempt may go ahead.
    public func retryAfter(failures: [String: (count: Int, oldest: Date?)], keys: [String], now: Date) -> Int? {
        var wait: TimeInterval = 0
        for key in keys {
            guard let (count, oldest) = failures[key], let oldest else { continue }
            let limit = key.hasPrefix("email:") ? perAccount : perAddress
            if count >= limit { wait = max(wait, oldest.addingTimeInterval(window).timeIntervalSince(now)) }
        }
        return wait > 0 ? Int(wait.rounded(.up)) : nil
    }
}
