import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/me`: the caller's own profile and account.
struct ProfileController: Sendable {
    typealias Context = ServiceRequestContext
    let users: UserRepository
    let settings: IdentitySettings
    /// Checks the current password of an email change, with the sign-in limits.
    let accounts: Accounts

    func add(to routes: RouteGroups) {
        routes.learner.get("/v1/me", use: show)
        routes.learner.patch("/v1/me", use: update)
        routes.learner.delete("/v1/me", use: delete)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let caller = try context.user
        guard let user = try await users.user(caller.id) else { throw Problem.notFound("user") }
        return JSONResponse(.ok, UserBody(user))
    }

    /// Every field optional; `null` clears an optional one.
    struct ProfilePatch: Decodable {
        var name: String?
        var email: String?
        /// Required to change `email`.
        var currentPassword: String?
        var marketingOptOut: Bool?
        var onboardingComplete: Bool?
        var timeZone: Patch<String>?
        var userType: Patch<String>?
        var buildGoal: Patch<String>?
        var experienceLevel: Patch<String>?
        var skillLevel: Patch<String>?
        var learningStyle: Patch<String>?
        var weeklyHours: Patch<Int>?

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case name, email, currentPassword, marketingOptOut, onboardingComplete, timeZone, userType, buildGoal, experienceLevel, skillLevel
            case learningStyle, weeklyHours
        }

        init(from decoder: any Decoder) throws {
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
    }

    enum Patch<T: Sendable & Equatable>: Sendable, Equatable {
        case set(T)
        case clear
        var value: T? { if case .set(let value) = self { value } else { nil } }
    }

    static let userTypes: Set<String> = ["SOLO_BUILDER", "EXPERIENCED_DEV", "TEAM_LEAD", "STUDENT", "OTHER"]
    static let experienceLevels: Set<String> = ["BEGINNER", "INTERMEDIATE", "ADVANCED"]
    static let skillLevels: Set<String> = ["beginner", "intermediate", "advanced"]
    static let learningStyles: Set<String> = ["reading", "video", "practice", "mixed"]

    static func validate(_ patch: ProfilePatch) -> [FieldError] {
        var errors: [FieldError] = []
        if let name = patch.name?.trimmingCharacters(in: .whitespacesAndNewlines) {
            if name.isEmpty {
                errors.append(FieldError(field: "name", code: "required", message: "Use 1 to \(Registration.nameMaxLength) characters."))
            } else if let problem = Registration.textError(field: "name", name, maxLength: Registration.nameMaxLength) {
                errors.append(problem)
            }
        }
        if let email = patch.email, !EmailAddress.isValid(email.trimmingCharacters(in: .whitespacesAndNewlines)) {
            errors.append(FieldError(field: "email", code: "invalid_email", message: "This is not a valid email address."))
        }
        if let zone = patch.timeZone?.value, TimeZone(identifier: zone) == nil {
            errors.append(FieldError(field: "timeZone", code: "invalid_time_zone", message: "Use an IANA time zone such as Europe/London."))
        }
        func oneOf(_ field: String, _ value: String?, _ allowed: Set<String>) {
            if let value, !allowed.contains(value) {
                errors.append(FieldError(field: field, code: "invalid_choice", message: "One of: \(allowed.sorted().joined(separator: ", "))."))
            }
        }
        oneOf("userType", patch.userType?.value, userTypes)
        oneOf("experienceLevel", patch.experienceLevel?.value, experienceLevels)
        oneOf("skillLevel", patch.skillLevel?.value, skillLevels)
        oneOf("learningStyle", patch.learningStyle?.value, learningStyles)
        if let goal = patch.buildGoal?.value, let problem = Registration.textError(field: "buildGoal", goal, maxLength: 2000) {
            errors.append(problem)
        }
        for (field, value) in [("userType", patch.userType?.value), ("timeZone", patch.timeZone?.value)] {
            if let value, value.unicodeScalars.count > 64 { errors.append(FieldError(field: field, code: "too_long", message: "Use at most 64 characters.")) }
        }
        if let hours = patch.weeklyHours?.value, !(0...168).contains(hours) {
            errors.append(FieldError(field: "weeklyHours", code: "out_of_range", message: "Between 0 and 168."))
        }
        return errors
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let caller = try context.user
        let patch = try await request.decode(as: ProfilePatch.self, context: context)
        var errors = Self.validate(patch)
        let now = Date()
        let settings = self.settings
        let email = patch.email?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let current = try await users.user(caller.id) else { throw Problem.notFound("user") }
        var emailChange: EmailChange?
        // A new address takes the current password: a stolen access token alone cannot move the
        // account to an address its thief controls.
        if let email, EmailAddress.isValid(email), EmailAddress.normalized(email) != EmailAddress.normalized(current.email) {
            if (patch.currentPassword ?? "").isEmpty {
                errors.append(FieldError(field: "currentPassword", code: "required", message: "Your current password is required to change your email."))
            } else if errors.isEmpty {
                guard current.passwordHash != nil else {
                    throw Problem(
                        .forbidden, code: "password_not_set",
                        title: "This account has no password; set one with a password reset before changing the email")
                }
                guard try await accounts.checkPassword(
                    patch.currentPassword ?? "", email: current.email, hash: current.passwordHash, client: settings.clientAddress(request, context),
                    now: now)
                else {
                    throw Problem(.forbidden, code: "invalid_password", title: "The current password is wrong")
                }
                let verification = OneTimeToken.make(lifetime: settings.verificationLifetime, now: now)
                let revert = OneTimeToken.make(lifetime: settings.revertLifetime, now: now)
                emailChange = EmailChange(
                    newEmail: email, verification: verification, verificationLink: settings.verificationURL(verification.token),
                    revert: revert, revertLink: settings.revertURL(revert.token))
            }
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        do {
            let user = try await users.updateProfile(caller.id, now: now, email: email, emailChange: emailChange) { user in
                if let name = patch.name { user.name = name.trimmingCharacters(in: .whitespacesAndNewlines) }
                if let value = patch.marketingOptOut { user.marketingOptOut = value }
                if let value = patch.onboardingComplete { user.onboardingComplete = value }
                if let patch = patch.timeZone { user.timeZone = patch.value }
                if let patch = patch.userType { user.userType = patch.value }
                if let patch = patch.buildGoal { user.buildGoal = patch.value }
                if let patch = patch.experienceLevel { user.experienceLevel = patch.value }
                if let patch = patch.skillLevel { user.skillLevel = patch.value }
                if let patch = patch.learningStyle { user.learningStyle = patch.value }
                if let patch = patch.weeklyHours { user.weeklyHours = patch.value }
            }
            return JSONResponse(.ok, UserBody(user))
        } catch IdentityError.emailTaken {
            throw IdentityErrors.emailTaken
        } catch IdentityError.notFound {
            throw Problem.notFound("user")
        } catch IdentityError.invalidCredentials {
            // The account's address changed while this request was checked: ask again.
            throw Problem(.conflict, code: "email_changed", title: "The account's email changed meanwhile; reload and try again")
        }
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.user
        do {
            try await users.delete(caller.id, by: "self", now: Date())
        } catch IdentityError.lastAdmin {
            throw Problem(.conflict, code: "last_admin", title: "The last admin cannot delete their account")
        } catch IdentityError.notFound {
            throw Problem.notFound("user")
        }
        return Response(status: .noContent)
    }
}
