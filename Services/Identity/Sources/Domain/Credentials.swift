import Foundation
import ServiceKit

/// What a sign-in by password must carry before anything is looked up.
public struct Credentials: Sendable, Equatable {
    public let email: String
    public let password: String

    /// Both fields present (the email trimmed); the password is not checked against the policy
    /// here, since it may predate it.
    public static func validate(email rawEmail: String?, password rawPassword: String?) throws(DomainError) -> Credentials {
        let email = (rawEmail ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let password = rawPassword ?? ""
        var errors: [FieldError] = []
        if email.isEmpty { errors.append(FieldError(field: "email", code: "required", message: "An email address is required.")) }
        if password.isEmpty { errors.append(FieldError(field: "password", code: "required", message: "A password is required.")) }
        guard errors.isEmpty else { throw .validation(errors) }
        return Credentials(email: email, password: password)
    }
}

/// The opaque tokens clients hand back: refresh tokens and the tokens of mailed links. Ours are
/// 43 characters; anything empty or far longer is refused before it is hashed or looked up.
public enum PresentedToken {
    public static let maxLength = 200

    public static func refreshToken(_ token: String?) throws(DomainError) -> String {
        guard let token, !token.isEmpty, token.count <= maxLength else {
            throw .validation([FieldError(field: "refreshToken", code: "required", message: "A refresh token is required.")])
        }
        return token
    }

    public static func linkToken(_ token: String?) throws(DomainError) -> String {
        guard let token, !token.isEmpty, token.count <= maxLength else {
            throw .validation([FieldError(field: "token", code: "required", message: "The link's token is required.")])
        }
        return token
    }

    /// A new password from a reset link: the token and the password under the policy, every bad
    /// field listed.
    public static func passwordReset(token: String?, password: String?) throws(DomainError) -> (token: String, password: String) {
        var errors: [FieldError] = []
        if (token ?? "").isEmpty { errors.append(FieldError(field: "token", code: "required", message: "The link's token is required.")) }
        if let error = Registration.passwordError(password) { errors.append(error) }
        guard errors.isEmpty, let token, let password else { throw .validation(errors) }
        return (token, password)
    }

    /// The address a reset link is asked for.
    public static func resetEmail(_ email: String?) throws(DomainError) -> String {
        guard let email = email?.trimmingCharacters(in: .whitespacesAndNewlines), EmailAddress.isValid(email) else {
            throw .validation([FieldError(field: "email", code: "invalid_email", message: "This is not a valid email address.")])
        }
        return email
    }
}
