import Crypto
import Foundation
import ServiceKit

/// One counter an attempt is reserved against: at most `limit` attempts per fixed window of
/// `window` seconds (windows start at multiples of `window` since 1970).
public struct AttemptKey: Sendable, Hashable {
    /// What is counted and whose (`login:account:ada@example.com`); at most `maxLength` bytes.
    public let key: String
    public let limit: Int
    public let window: TimeInterval

    /// Longer keys are stored as their scope and a SHA-256 of the rest, so no client can make a
    /// row of any size.
    public static let maxLength = 128

    public init(scope: String, value: String, limit: Int, window: TimeInterval) {
        let full = scope + ":" + value
        if full.utf8.count <= Self.maxLength {
            key = full
        } else {
            let digest = SHA256.hash(data: Data(value.utf8)).map { String(format: "%02x", $0) }.joined()
            key = scope + ":sha256:" + digest
        }
        self.limit = limit
        self.window = window
    }

    public func windowStart(at now: Date) -> Date {
        Date(timeIntervalSince1970: (now.timeIntervalSince1970 / window).rounded(.down) * window)
    }

    /// Whole seconds until the window of `now` ends, at least 1: when this key counts from zero again.
    public func retryAfter(at now: Date) -> Int {
        max(1, Int(windowStart(at: now).addingTimeInterval(window).timeIntervalSince(now).rounded(.up)))
    }
}

/// The limits on attempts that cost work or could be abused: sign-in, sign-up, reset and
/// verification mail, OAuth starts. Attempts are reserved before the work is done, atomically in
/// Postgres, so concurrent requests cannot all slip under a limit.
///
/// Sign-in has three keys, so that a few guesses cannot lock anyone else out: a tight one for
/// an account from one client address, a looser one for the account across addresses (slow
/// distributed guessing), and a loose one for the address across accounts (one address trying
/// many accounts). The other actions count per client address.
public struct Throttle: Sendable, Equatable {
    public var window: TimeInterval = 15 * 60
    /// Sign-in attempts for one account from one client address.
    public var perAccountAndAddress = 5
    /// Sign-in attempts for one account, from every address.
    public var perAccount = 20
    /// Attempts of one action (sign-in, sign-up, reset request, verification mail, OAuth start)
    /// from one client address.
    public var perAddress = 100
    /// Reset links mailed for one email address per hour; more requests are answered the same
    /// (202) but mail nothing.
    public var resetLinksPerEmail = 3
    public var resetLinkWindow: TimeInterval = 3600

    public init() {}

    /// The keys of a sign-in by password (also of a password check before an email change):
    /// account and address, account, address.
    public func signIn(email: String, address: String) -> [AttemptKey] {
        let account = EmailAddress.normalized(email)
        let address = ClientAddressResolver.throttleKey(address)
        return [
            AttemptKey(scope: "login:account-address", value: account + " " + address, limit: perAccountAndAddress, window: window),
            AttemptKey(scope: "login:account", value: account, limit: perAccount, window: window),
            AttemptKey(scope: "login:address", value: address, limit: perAddress, window: window),
        ]
    }

    /// The key of another action from one client address (`register`, `password-reset`,
    /// `verify-email-resend`, `oauth-start`).
    public func action(_ action: String, address: String) -> AttemptKey {
        AttemptKey(scope: action + ":address", value: ClientAddressResolver.throttleKey(address), limit: perAddress, window: window)
    }

    /// Reset links mailed to one address.
    public func resetLinks(email: String) -> AttemptKey {
        AttemptKey(scope: "reset-link:email", value: EmailAddress.normalized(email), limit: resetLinksPerEmail, window: resetLinkWindow)
    }

    /// The verdict on a reservation: `reserved` holds each key's count after this attempt, or
    /// nil when the key was full already. Nil when the attempt may go ahead, else the seconds to
    /// wait (until the last full key's window ends).
    public static func retryAfter(_ reserved: [(key: AttemptKey, count: Int?)], now: Date) -> Int? {
        let full = reserved.filter { entry in entry.count.map { $0 > entry.key.limit } ?? true }
        guard !full.isEmpty else { return nil }
        return full.map { $0.key.retryAfter(at: now) }.max()
    }
}
