import Foundation
import ServiceKit

/// A change to one's own profile: every field optional; `null` clears an optional one.
public struct ProfileChange: Decodable, Sendable {
    public var name: String?
    public var email: String?
    /// Required to change `email`.
    public var currentPassword: String?
    public var marketingOptOut: Bool?
    public var onboardingComplete: Bool?
    public var timeZone: Patch<String>?
    public var userType: Patch<String>?
    public var buildGoal: Patch<String>?
    public var experienceLevel: Patch<String>?
    public var skillLevel: Patch<String>?
    public var learningStyle: Patch<String>?
    public var weeklyHours: Patch<Int>?

    /// An optional field of the change: set to a value, or cleared (sent as `null`).
    public enum Patch<T: Sendable & Equatable>: Sendable, Equatable {
        case set(T)
        case clear
        public var value: T? { if case .set(let value) = self { value } else { nil } }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, email, currentPassword, marketingOptOut, onboardingComplete, timeZone, userType, buildGoal, experienceLevel, skillLevel
        case learningStyle, weeklyHours
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        email = try container.decodeIfPresent(String.self, forKey: .email)
        currentPassword = try container.decodeIfPresent(String.self, forKey: .currentPassword)
        marketingOptOut = try container.decodeIfPresent(Bool.self, forKey: .marketingOptOut)
        onboardingComplete = try container.decodeIfPresent(Bool.self, forKey: .onboardingComplete)
        func patch<T: Decodable>(_ key: CodingKeys) throws -> Patch<T>? {
            guard container.contains(key) else { return nil }
            return try container.decodeNil(forKey: key) ? .clear : .set(try container.decode(T.self, forKey: key))
        }
        timeZone = try patch(.timeZone)
        userType = try patch(.userType)
        buildGoal = try patch(.buildGoal)
        experienceLevel = try patch(.experienceLevel)
        skillLevel = try patch(.skillLevel)
        learningStyle = try patch(.learningStyle)
        weeklyHours = try patch(.weeklyHours)
    }

    public static let userTypes: Set<String> = ["SOLO_BUILDER", "EXPERIENCED_DEV", "TEAM_LEAD", "STUDENT", "OTHER"]
    public static let experienceLevels: Set<String> = ["BEGINNER", "INTERMEDIATE", "ADVANCED"]
    public static let skillLevels: Set<String> = ["beginner", "intermediate", "advanced"]
    public static let learningStyles: Set<String> = ["reading", "video", "practice", "mixed"]

    /// The requested address, trimmed.
    public var requestedEmail: String? { email?.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Every field that breaks a rule (the email change's password is checked apart, see
    /// `EmailChangeStep`).
    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if let name = name?.trimmingCharacters(in: .whitespacesAndNewlines) {
            if name.isEmpty {
                errors.append(FieldError(field: "name", code: "required", message: "Use 1 to \(Registration.nameMaxLength) characters."))
            } else if let error = Registration.textError(field: "name", name, maxLength: Registration.nameMaxLength) {
                errors.append(error)
            }
        }
        if let email = requestedEmail, !EmailAddress.isValid(email) {
            errors.append(FieldError(field: "email", code: "invalid_email", message: "This is not a valid email address."))
        }
        if let zone = timeZone?.value, TimeZone(identifier: zone) == nil {
            errors.append(FieldError(field: "timeZone", code: "invalid_time_zone", message: "Use an IANA time zone such as Europe/London."))
        }
        func oneOf(_ field: String, _ value: String?, _ allowed: Set<String>) {
            if let value, !allowed.contains(value) {
                errors.append(FieldError(field: field, code: "invalid_choice", message: "One of: \(allowed.sorted().joined(separator: ", "))."))
            }
        }
        oneOf("userType", userType?.value, Self.userTypes)
        oneOf("experienceLevel", experienceLevel?.value, Self.experienceLevels)
        oneOf("skillLevel", skillLevel?.value, Self.skillLevels)
        oneOf("learningStyle", learningStyle?.value, Self.learningStyles)
        if let goal = buildGoal?.value, let error = Registration.textError(field: "buildGoal", goal, maxLength: 2000) {
            errors.append(error)
        }
        for (field, value) in [("userType", userType?.value), ("timeZone", timeZone?.value)] {
            if let value, value.unicodeScalars.count > 64 { errors.append(FieldError(field: field, code: "too_long", message: "Use at most 64 characters.")) }
        }
        if let hours = weeklyHours?.value, !(0...168).contains(hours) {
            errors.append(FieldError(field: "weeklyHours", code: "out_of_range", message: "Between 0 and 168."))
        }
        return errors
    }

    /// The profile with this change made (the address is not: see `UserRepository.updateProfile`).
    public func apply(to user: inout User) {
        if let name { user.name = name.trimmingCharacters(in: .whitespacesAndNewlines) }
        if let marketingOptOut { user.marketingOptOut = marketingOptOut }
        if let onboardingComplete { user.onboardingComplete = onboardingComplete }
        if let timeZone { user.timeZone = timeZone.value }
        if let userType { user.userType = userType.value }
        if let buildGoal { user.buildGoal = buildGoal.value }
        if let experienceLevel { user.experienceLevel = experienceLevel.value }
        if let skillLevel { user.skillLevel = skillLevel.value }
        if let learningStyle { user.learningStyle = learningStyle.value }
        if let weeklyHours { user.weeklyHours = weeklyHours.value }
    }
}

/// What a profile change asking for a new address must go through first. A new address takes
/// the current password: a stolen access token alone cannot move the account to an address its
/// thief controls.
public enum EmailChangeStep: Sendable, Equatable {
    /// No new address (none asked for, not a valid one, or the account's own in another case).
    case none
    /// The current password was not sent: one more invalid field.
    case passwordMissing
    /// Other fields are invalid: those are answered first, and no password is checked.
    case waitForValidFields
    /// The account has no password to check (it signs in through a provider).
    case passwordNotSet
    /// Check this password with the sign-in limits before anything is written.
    case checkPassword(String)

    public static func decide(
        requested: String?, currentEmail: String, currentPassword: String?, hasPassword: Bool, otherErrors: Bool
    ) -> EmailChangeStep {
        guard let requested, EmailAddress.isValid(requested), EmailAddress.normalized(requested) != EmailAddress.normalized(currentEmail)
        else { return .none }
        let password = currentPassword ?? ""
        if password.isEmpty { return .passwordMissing }
        if otherErrors { return .waitForValidFields }
        return hasPassword ? .checkPassword(password) : .passwordNotSet
    }

    public static let passwordRequired = FieldError(
        field: "currentPassword", code: "required", message: "Your current password is required to change your email.")
}
