import ServiceKit

/// Why identity refuses, in its own words; each keeps the code and status clients know.
extension DomainError {
    /// Another account has this address.
    public static let emailTaken = DomainError(.conflict, code: "email_taken", title: "An account with this email already exists")

    /// A verification, reset or revert link that cannot be used (any more).
    public static let invalidLink = DomainError(
        .malformed, code: "invalid_link", title: "This link is not valid",
        detail: "It was used already, has expired or was replaced by a newer one.")

    /// Too many attempts of one kind; try again after `retryAfter` seconds.
    public static func tooManyAttempts(_ retryAfter: Int, title: String = "Too many attempts; try again later") -> DomainError {
        DomainError(.tooMany, code: "too_many_attempts", title: title, retryAfter: retryAfter)
    }

    /// The password hashing queue is full.
    public static let busy = DomainError(
        .unavailable, code: "busy", title: "Too many requests are being handled; try again in a moment", retryAfter: 2)

    public static let invalidCredentials = DomainError(
        .unauthenticated, code: "invalid_credentials", title: "The email or the password is wrong")

    public static let invalidRefreshToken = DomainError(
        .unauthenticated, code: "invalid_refresh_token", title: "The refresh token is not valid")

    public static let refreshTokenReused = DomainError(
        .unauthenticated, code: "refresh_token_reused",
        title: "This refresh token was used already; the session has been ended for safety")

    public static let userNotFound = DomainError.notFound("user")

    /// The change would leave the deployment without an admin; `title` says which change.
    public static func lastAdmin(_ title: String) -> DomainError {
        DomainError(.conflict, code: "last_admin", title: title)
    }

    // MARK: Email changes

    public static let passwordNotSet = DomainError(
        .forbidden, code: "password_not_set",
        title: "This account has no password; set one with a password reset before changing the email")

    public static let invalidPassword = DomainError(.forbidden, code: "invalid_password", title: "The current password is wrong")

    /// The account's address changed while a request to change it was checked.
    public static let emailChanged = DomainError(
        .conflict, code: "email_changed", title: "The account's email changed meanwhile; reload and try again")

    // MARK: OAuth

    public static let unknownProvider = DomainError(.notFound, code: "unknown_provider", title: "No such sign-in provider")

    public static func oauthDenied(_ reason: String) -> DomainError {
        DomainError(.malformed, code: "oauth_denied", title: "The provider did not sign you in", detail: String(reason.prefix(200)))
    }

    public static let invalidOAuthState = DomainError(
        .malformed, code: "invalid_state", title: "This sign-in expired or was used already; start again")

    public static let oauthProviderFailed = DomainError(
        .upstreamFailed, code: "oauth_provider_error", title: "The sign-in provider did not answer as expected")

    public static let accountExists = DomainError(
        .conflict, code: "account_exists",
        title: "An account with this email exists; sign in with your password and verify your email to link this provider")

    public static let emailUnverifiedAtProvider = DomainError(
        .forbidden, code: "email_unverified_at_provider",
        title: "Your address is not verified at this provider; verify it there, or sign up with a password")
}
