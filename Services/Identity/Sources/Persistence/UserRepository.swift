import Contracts
import Database
import Foundation
import ServiceKit

/// A user as identity stores it.
public struct User: Sendable, Equatable, Codable {
    public var id: UUID
    public var email: String
    public var name: String
    public var role: String
    public var emailVerified: Bool
    public var marketingOptOut: Bool
    public var onboardingComplete: Bool
    public var createdAt: Date
}

public enum RegistrationError: Error, Equatable {
    case emailTaken
}

/// Users and sessions in the `identity` schema.
public struct UserRepository: Sendable {
    let database: DatabasePool

    public init(database: DatabasePool) {
        self.database = database
    }

    /// Creates the user, their first session and the `identity.user.registered.v1` event in one
    /// transaction: all of it commits or none.
    public func register(
        id: UUID, email: String, name: String, passwordHash: String, refreshTokenHash: Data, now: Date
    ) async throws -> User {
        let user = User(
            id: id, email: email, name: name, role: "USER", emailVerified: false, marketingOptOut: false,
            onboardingComplete: false, createdAt: now)
        let event = CloudEvent(
            IdentityUserRegisteredV1(
                userId: id.lowercased, email: email, name: name, role: user.role, emailVerified: false,
                marketingOptOut: false, registeredAt: now),
            sequence: 1, time: now)
        do {
            try await database.transaction { connection in
                try connection.execute(
                    """
                    INSERT INTO users (id, email, password_hash, name, role, version, created_at, updated_at)
                    VALUES (\(id), \(email), \(passwordHash), \(name), \(user.role), 1, \(now), \(now))
                    """)
                try connection.execute(
                    """
                    INSERT INTO sessions (id, user_id, refresh_token_hash, created_at, expires_at)
                    VALUES (\(UUIDv7.make()), \(id), \(refreshTokenHash), \(now), \(now.addingTimeInterval(TokenIssuer.refreshTokenLifetime)))
                    """)
                try Outbox.enqueue(event, on: connection)
            }
        } catch DatabaseError.uniqueViolation(let error) where error.constraint == "users_email_unique" {
            throw RegistrationError.emailTaken
        }
        return user
    }
}
