/// One invalid field of a request.
public struct FieldError: Codable, Sendable, Equatable {
    public var field: String
    public var code: String
    public var message: String

    public init(field: String, code: String, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }
}

/// Why a use case refused: what domain and persistence code throw. It says what went wrong in
/// the domain's words (`kind`) with a stable `code`; the HTTP layer alone decides how it is
/// answered (`Problem(_:)`), so rules and stores know nothing of statuses or problem+json.
public struct DomainError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The input breaks a rule (one or more fields).
        case invalid
        /// The input cannot be read at all.
        case malformed
        /// The credentials given (a password, a refresh token) are not valid.
        case unauthenticated
        /// The thing asked for does not exist, or is not the caller's to see.
        case notFound
        /// The thing is not in a state that allows this.
        case conflict
        /// The caller may not do this (a plan's quota, a locked lesson).
        case forbidden
        /// The input is well formed but was refused by the rules or by a provider.
        case unprocessable
        /// Too many attempts; try again later.
        case tooMany
        /// Something we depend on is not set up or not reachable.
        case unavailable
        /// A provider we called failed.
        case upstreamFailed
    }

    public var kind: Kind
    public var code: String
    public var title: String
    public var detail: String?
    public var errors: [FieldError]
    /// Extra members of the answer (for example `limit` with `quota_exceeded`).
    public var extensions: [String: JSONValue]
    /// Seconds after which trying again may succeed.
    public var retryAfter: Int?

    public init(
        _ kind: Kind, code: String, title: String, detail: String? = nil, errors: [FieldError] = [],
        extensions: [String: JSONValue] = [:], retryAfter: Int? = nil
    ) {
        self.kind = kind
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
        self.retryAfter = retryAfter
    }

    public static func validation(_ errors: [FieldError]) -> DomainError {
        DomainError(.invalid, code: "validation_failed", title: "The request is not valid", errors: errors)
    }

    public static func malformed(_ detail: String) -> DomainError {
        DomainError(.malformed, code: "malformed_request", title: "The request body could not be read", detail: detail)
    }

    public static func notFound(_ what: String = "resource") -> DomainError {
        DomainError(.notFound, code: "not_found", title: "Not found", detail: "No such \(what).")
    }
}
