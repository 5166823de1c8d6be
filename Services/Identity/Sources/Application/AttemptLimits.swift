import Foundation
import ServiceKit

/// The limits on attempts and on hashing, as every use case that costs work meets them: an
/// attempt is reserved before the work, and refused with `too_many_attempts` when a limit is
/// reached; a full hashing queue is `busy`.
struct AttemptLimits: Sendable {
    let counters: AttemptCounters
    let hasher: PasswordHasher
    let throttle: Throttle
    /// A hash to check passwords against when the account does not exist, so that a wrong email
    /// costs as long as a wrong password.
    let decoyHash: String

    /// Reserves one attempt against `keys`, or refuses with the seconds to wait.
    func reserve(_ keys: [AttemptKey], now: Date, title: String = "Too many attempts; try again later") async throws -> AttemptCounters.Reservation {
        do {
            return try await counters.reserve(keys, now: now)
        } catch let refused as AttemptCounters.Refused {
            throw DomainError.tooManyAttempts(refused.retryAfter, title: title)
        }
    }

    /// One attempt of `action` from a client address.
    func reserve(_ action: String, from address: String, now: Date) async throws {
        _ = try await reserve([throttle.action(action, address: address)], now: now)
    }

    /// Hashes or verifies with the bounded pool: `busy` when its queue is full.
    func hashing<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch is PasswordHasher.Busy {
            throw DomainError.busy
        }
    }

    func hash(_ password: String) async throws -> String {
        try await hashing { try await hasher.hash(password) }
    }

    /// Checks a user's password with the sign-in limits: the attempt is reserved before bcrypt
    /// runs, and given back when the password was right (clearing the account-and-address
    /// counter: the owner has shown who they are from there). `too_many_attempts` when a limit is
    /// reached, `busy` when the hashing queue is full (the attempt is given back too).
    func checkPassword(_ password: String, email: String, hash: String?, from address: String, now: Date) async throws -> Bool {
        let keys = throttle.signIn(email: email, address: address)
        let reservation = try await reserve(keys, now: now, title: "Too many sign-in attempts; try again later")
        let matches: Bool
        do {
            // Always one bcrypt check, so an unknown email answers as slowly as a wrong password.
            matches = try await hasher.verify(password, hash: hash ?? decoyHash)
        } catch {
            try? await counters.release(reservation)
            if error is PasswordHasher.Busy { throw DomainError.busy }
            throw error
        }
        guard matches, hash != nil else { return false }
        try await counters.release(reservation, clearing: [keys[0].key])
        return true
    }
}
