import Foundation

/// `identity.user.registered.v1`: an account was created. Carries what subscribers need to greet
/// and address the user; never a password hash or a token.
public struct IdentityUserRegisteredV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.registered", majorVersion: 1)

    public var userId: String
    public var email: String
    public var name: String
    public var role: String
    public var emailVerified: Bool
    public var marketingOptOut: Bool
    public var registeredAt: Date

    public init(userId: String, email: String, name: String, role: String, emailVerified: Bool, marketingOptOut: Bool, registeredAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.role = role
        self.emailVerified = emailVerified
        self.marketingOptOut = marketingOptOut
        self.registeredAt = registeredAt
    }

    public var subject: String { userId }
}

/// `identity.user.logged_in.v1`: a successful sign-in (password or OAuth). Feeds "last activity".
public struct IdentityUserLoggedInV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.logged_in", majorVersion: 1)

    public var userId: String
    /// `password` or `oauth`.
    public var method: String
    /// The OAuth provider, for `oauth`.
    public var provider: String?
    public var loggedInAt: Date

    public init(userId: String, method: String, provider: String?, loggedInAt: Date) {
        self.userId = userId
        self.method = method
        self.provider = provider
        self.loggedInAt = loggedInAt
    }

    public var subject: String { userId }
}

/// `identity.user.profile_updated.v1`: the whole profile after a change (whole state, so a
/// subscriber keeps the newest by `sequence`).
public struct IdentityUserProfileUpdatedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.profile_updated", majorVersion: 1)

    public var userId: String
    public var email: String
    public var name: String
    public var emailVerified: Bool
    public var marketingOptOut: Bool
    public var onboardingComplete: Bool
    public var timeZone: String?
    public var userType: String?
    public var buildGoal: String?
    public var experienceLevel: String?
    public var skillLevel: String?
    public var learningStyle: String?
    public var weeklyHours: Int?
    public var updatedAt: Date

    public init(
        userId: String, email: String, name: String, emailVerified: Bool, marketingOptOut: Bool, onboardingComplete: Bool,
        timeZone: String?, userType: String?, buildGoal: String?, experienceLevel: String?, skillLevel: String?,
        learningStyle: String?, weeklyHours: Int?, updatedAt: Date
    ) {
        self.userId = userId
        self.email = email
        self.name = name
        self.emailVerified = emailVerified
        self.marketingOptOut = marketingOptOut
        self.onboardingComplete = onboardingComplete
        self.timeZone = timeZone
        self.userType = userType
        self.buildGoal = buildGoal
        self.experienceLevel = experienceLevel
        self.skillLevel = skillLevel
        self.learningStyle = learningStyle
        self.weeklyHours = weeklyHours
        self.updatedAt = updatedAt
    }

    public var subject: String { userId }
}

/// `identity.user.role_changed.v1`: an admin changed a user's role.
public struct IdentityUserRoleChangedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.role_changed", majorVersion: 1)

    public var userId: String
    public var role: String
    public var previousRole: String
    public var changedBy: String
    public var changedAt: Date

    public init(userId: String, role: String, previousRole: String, changedBy: String, changedAt: Date) {
        self.userId = userId
        self.role = role
        self.previousRole = previousRole
        self.changedBy = changedBy
        self.changedAt = changedAt
    }

    public var subject: String { userId }
}

/// `identity.user.access_override_changed.v1`: an admin granted or removed free access. Billing
/// turns it into an entitlement.
public struct IdentityUserAccessOverrideChangedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.access_override_changed", majorVersion: 1)

    public var userId: String
    public var accessOverride: Bool
    public var changedBy: String
    public var changedAt: Date

    public init(userId: String, accessOverride: Bool, changedBy: String, changedAt: Date) {
        self.userId = userId
        self.accessOverride = accessOverride
        self.changedBy = changedBy
        self.changedAt = changedAt
    }

    public var subject: String { userId }
}

/// `identity.user.deleted.v1`: the account is gone. Every service erases or anonymises what it
/// holds of the user and keeps a tombstone, so late events cannot re-create it and the user's
/// remaining access tokens are refused.
public struct IdentityUserDeletedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.deleted", majorVersion: 1)

    public var userId: String
    /// `self` when the user deleted their own account, else the admin's user id.
    public var deletedBy: String
    public var deletedAt: Date

    public init(userId: String, deletedBy: String, deletedAt: Date) {
        self.userId = userId
        self.deletedBy = deletedBy
        self.deletedAt = deletedAt
    }

    public var subject: String { userId }
}

/// `identity.email.verification_requested.v1`, retired: it carried the verification link on the
/// public bus. Superseded by `.v2` (the fact) and the private `identity.email.verification_link.v1`
/// (the link, for notifications only); kept so the contract still describes archived copies.
public struct IdentityEmailVerificationRequestedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "email.verification_requested", majorVersion: 1)

    public var userId: String
    public var email: String
    public var name: String
    public var verificationUrl: String
    public var expiresAt: Date

    public init(userId: String, email: String, name: String, verificationUrl: String, expiresAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.verificationUrl = verificationUrl
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}

/// `identity.password.reset_requested.v1`, retired: it carried the reset link on the public bus.
/// Superseded by `.v2` and the private `identity.password.reset_link.v1`.
public struct IdentityPasswordResetRequestedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "password.reset_requested", majorVersion: 1)

    public var userId: String
    public var email: String
    public var name: String
    public var resetUrl: String
    public var expiresAt: Date

    public init(userId: String, email: String, name: String, resetUrl: String, expiresAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.resetUrl = resetUrl
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}

/// `identity.email.verification_requested.v2`: a verification link was issued to the user. The
/// link itself travels only privately, to notifications.
public struct IdentityEmailVerificationRequestedV2: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "email.verification_requested", majorVersion: 2)

    public var userId: String
    public var expiresAt: Date

    public init(userId: String, expiresAt: Date) {
        self.userId = userId
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}

/// `identity.password.reset_requested.v2`: a password-reset link was issued to the user (whose
/// address is known). The link itself travels only privately, to notifications.
public struct IdentityPasswordResetRequestedV2: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "password.reset_requested", majorVersion: 2)

    public var userId: String
    public var expiresAt: Date

    public init(userId: String, expiresAt: Date) {
        self.userId = userId
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}

/// `identity.email.verification_link.v1`, private: send the VERIFY_EMAIL mail. The link carries a
/// single-use token identity stores only as a hash; it goes to `identity.private`, which only
/// notifications reads and the archive never sees, and identity deletes it from its outbox once
/// the broker has it.
public struct IdentityEmailVerificationLinkV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "email.verification_link", majorVersion: 1, visibility: .private)

    public var userId: String
    public var email: String
    public var name: String
    public var verificationUrl: String
    public var expiresAt: Date

    public init(userId: String, email: String, name: String, verificationUrl: String, expiresAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.verificationUrl = verificationUrl
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}

/// `identity.password.reset_link.v1`, private: send the PASSWORD_RESET mail (single-use, one
/// hour). Travels like `identity.email.verification_link.v1`.
public struct IdentityPasswordResetLinkV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "password.reset_link", majorVersion: 1, visibility: .private)

    public var userId: String
    public var email: String
    public var name: String
    public var resetUrl: String
    public var expiresAt: Date

    public init(userId: String, email: String, name: String, resetUrl: String, expiresAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.resetUrl = resetUrl
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}

/// `identity.email.change_requested.v1`, private: a user asked to change their sign-in address;
/// send the EMAIL_CHANGE_REQUESTED mail to the current (old) address, with the link that takes
/// the account back. Travels like `identity.password.reset_link.v1`.
public struct IdentityEmailChangeRequestedV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "email.change_requested", majorVersion: 1, visibility: .private)

    public var userId: String
    /// The current address, where the mail goes.
    public var email: String
    public var name: String
    /// The address asked for, not verified yet.
    public var newEmail: String
    public var revertUrl: String
    public var expiresAt: Date

    public init(userId: String, email: String, name: String, newEmail: String, revertUrl: String, expiresAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.newEmail = newEmail
        self.revertUrl = revertUrl
        self.expiresAt = expiresAt
    }

    public var subject: String { userId }
}
