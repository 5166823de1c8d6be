import Foundation
import ServiceKit

/// A request to create an account, checked before anything is written.
public struct Registration: Sendable, Equatable {
    public let email: String
    public let password: String
    public let name: String

    public static let passwordMinLength = 8
    /// bcrypt reads at most 72 bytes; a longer password would be silently truncated.
    public static let passwordMaxBytes = 72
    public static let nameMaxLength = 200
    public static let emailMaxLength = 320

    /// What is wrong with a password under the length policy, if anything.
    public static func passwordError(_ password: String?) -> FieldError? {
        let password = password ?? ""
        if password.isEmpty { return FieldError(field: "password", code: "required", message: "A password is required.") }
        if password.contains("\u{0}") {
            return FieldError(field: "password", code: "invalid_characters", message: "A password cannot contain NUL.")
        }
        if password.count < passwordMinLength {
            return FieldError(field: "password", code: "too_short", message: "Use at least \(passwordMinLength) characters.")
        }
        if password.utf8.count > passwordMaxBytes {
            return FieldError(field: "password", code: "too_long", message: "Use at most \(passwordMaxBytes) bytes.")
        }
        return nil
    }

    /// Length as the database counts it (code points), and no NUL, which Postgres text cannot hold.
    public static func textError(field: String, _ text: String, maxLength: Int) -> FieldError? {
        if text.unicodeScalars.contains("\u{0}") {
            return FieldError(field: field, code: "invalid_characters", message: "Text cannot contain NUL.")
        }
        if text.unicodeScalars.count > maxLength {
            return FieldError(field: field, code: "too_long", message: "Use at most \(maxLength) characters.")
        }
        return nil
    }

    /// Validates and normalises the input (trimmed name, trimmed email); lists every bad field.
    public static func validate(email rawEmail: String?, password: String?, name rawName: String?) -> Result<Registration, DomainError> {
        var errors: [FieldError] = []
        let email = (rawEmail ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if email.isEmpty {
            errors.append(FieldError(field: "email", code: "required", message: "An email address is required."))
        } else if !EmailAddress.isValid(email) {
            errors.append(FieldError(field: "email", code: "invalid_email", message: "This is not a valid email address."))
        }
        if let error = passwordError(password) { errors.append(error) }
        let password = password ?? ""
        let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty {
            errors.append(FieldError(field: "name", code: "required", message: "A name is required."))
        } else if let error = textError(field: "name", name, maxLength: nameMaxLength) {
            errors.append(error)
        }
        if !errors.isEmpty { return .failure(.validation(errors)) }
        return .success(Registration(email: email, password: password, name: name))
    }
}

/// Email addresses as accounts use them: a pragmatic check of the address form (RFC 5321 sizes,
/// one `@`, a dotted domain, no spaces or control characters), compared without case.
public enum EmailAddress {
    public static func isValid(_ address: String) -> Bool {
        guard address.utf8.count <= Registration.emailMaxLength else { return false }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty, domain.utf8.count <= 255 else { return false }
        let forbidden = CharacterSet.whitespacesAndNewlines.union(.controlCharacters).union(CharacterSet(charactersIn: "<>()[],;:\\\""))
        guard address.unicodeScalars.allSatisfy({ !forbidden.contains($0) }) else { return false }
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 && !$0.hasPrefix("-") && !$0.hasSuffix("-") })
        else { return false }
        return true
    }

    /// The form used for uniqueness and look-ups.
    public static func normalized(_ address: String) -> String {
        address.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}
