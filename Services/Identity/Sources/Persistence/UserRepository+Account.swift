import Contracts
import Database
import Foundation
import ServiceKit

extension UserRepository {
    /// Remembers a sign-in under way (state and PKCE verifier), for ten minutes.
    public func saveOAuthState(_ state: String, provider: String, verifier: String, now: Date) async throws {
        try await database.transaction { connection in
            // Expired states go here too, besides the periodic pruning.
            try connection.execute("DELETE FROM oauth_states WHERE expires_at < \(now)")
            try connection.execute(
                "INSERT INTO oauth_states (state, provider, code_verifier, expires_at) VALUES (\(state), \(provider), \(verifier), \(now.addingTimeInterval(600)))")
        }
    }

    /// Takes a sign-in's verifier back, once; nil for an unknown, used or expired state.
    public func takeOAuthState(_ state: String, provider: String, now: Date) async throws -> String? {
        try await database.query(
            "DELETE FROM oauth_states WHERE state = \(state) AND provider = \(provider) AND expires_at > \(now) RETURNING code_verifier"
        ).first?.decode("code_verifier", as: String.self)
    }

    public enum OAuthOutcome: Sendable, Equatable {
        case signedIn(UUID)
        /// An account with this email exists, but the provider or the account has not verified
        /// the address: linking could hand the account to whoever controls the provider login.
        case cannotLink
        /// The provider has not verified the address: no account is made from it.
        case unverifiedEmail
    }

    /// Finds or makes the user of a provider identity. An existing account is linked only when
    /// the provider asserts a verified email AND the local email is verified.
    public func resolve(_ identity: OAuthProvider.Identity, provider: String, now: Date) async throws -> OAuthOutcome {
        do {
            return try await database.transaction { connection in
                if let row = try connection.query(
                    "SELECT user_id FROM accounts WHERE provider = \(provider) AND subject = \(identity.subject)").first
                {
                    return .signedIn(try row.decode("user_id"))
                }
                if let existing = try connection.query(
                    "SELECT \(unsafeRaw: User.columns) FROM users WHERE lower(email) = lower(\(identity.email)) FOR UPDATE"
                ).first.map(User.init(row:)) {
                    guard identity.emailVerified, existing.emailVerified else { return .cannotLink }
                    try connection.execute(
                        "INSERT INTO accounts (provider, subject, user_id, email) VALUES (\(provider), \(identity.subject), \(existing.id), \(identity.email))")
                    return .signedIn(existing.id)
                }
                guard identity.emailVerified else { return .unverifiedEmail }
                let id = UUIDv7.make(at: now)
                let name = (identity.name?.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0.isEmpty ? nil : String($0.prefix(200)) }
                    ?? String(identity.email.split(separator: "@")[0].prefix(200))
                let storedName = String(String.UnicodeScalarView(name.unicodeScalars.filter { $0 != "\u{0}" }.prefix(200)))
                try connection.execute(
                    """
                    INSERT INTO users (id, email, password_hash, name, role, email_verified_at, version, created_at, updated_at)
                    VALUES (\(id), \(identity.email), NULL, \(storedName), 'USER', \(now), 1, \(now), \(now))
                    """)
                try connection.execute(
                    "INSERT INTO accounts (provider, subject, user_id, email) VALUES (\(provider), \(identity.subject), \(id), \(identity.email))")
                try Outbox.enqueue(
                    CloudEvent(
                        IdentityUserRegisteredV1(
                            userId: id.lowercased, email: identity.email, name: storedName, role: "USER", emailVerified: true,
                            marketingOptOut: false, registeredAt: now),
                        sequence: 1, time: now),
                    on: connection)
                return .signedIn(id)
            }
        } catch DatabaseError.uniqueViolation {
            // Two callbacks for the same new identity at once: the other one made the account.
            return try await resolve(identity, provider: provider, now: now)
        }
    }
}
