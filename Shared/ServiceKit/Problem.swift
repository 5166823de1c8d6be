import Database
import Foundation
import Hummingbird
import Logging
import NIOCore

/// An RFC 9457 problem: every error answer of every service. `code` is stable and meant for
/// programs; `title` and `detail` are for people.
public struct Problem: HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String?
    public var errors: [FieldError]
    /// RFC 9457 extension members, written beside the standard ones (for example `limit` with
    /// `quota_exceeded`); a standard member's name is ignored here.
    public var extensions: [String: JSONValue]
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, errors: [FieldError] = [],
        extensions: [String: JSONValue] = [:], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
        self.headers = headers
    }

    public static func == (lhs: Problem, rhs: Problem) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.title == rhs.title && lhs.detail == rhs.detail
            && lhs.errors == rhs.errors && lhs.extensions == rhs.extensions
    }

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var code: String
        var detail: String?
        var errors: [FieldError]?
        var extensions: [String: JSONValue]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        static let standard: Set = ["type", "title", "status", "code", "detail", "errors"]

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(type, forKey: Key(stringValue: "type"))
            try container.encode(title, forKey: Key(stringValue: "title"))
            try container.encode(status, forKey: Key(stringValue: "status"))
            try container.encode(code, forKey: Key(stringValue: "code"))
            try container.encodeIfPresent(detail, forKey: Key(stringValue: "detail"))
            try container.encodeIfPresent(errors, forKey: Key(stringValue: "errors"))
            for (name, value) in extensions where !Self.standard.contains(name) {
                try container.encode(value, forKey: Key(stringValue: name))
            }
        }
    }

    public var body: [UInt8] {
        let body = Body(
            type: "about:blank", title: title, status: status.code, code: code, detail: detail,
            errors: errors.isEmpty ? nil : errors, extensions: extensions)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(body)) ?? Data(#"{"title":"error"}"#.utf8))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: Common problems

    public static func validation(_ errors: [FieldError]) -> Problem {
        Problem(.unprocessableContent, code: "validation_failed", title: "The request is not valid", errors: errors)
    }

    public static func malformed(_ detail: String) -> Problem {
        Problem(.badRequest, code: "malformed_request", title: "The request body could not be read", detail: detail)
    }

    public static func notFound(_ what: String = "resource") -> Problem {
        Problem(.notFound, code: "not_found", title: "Not found", detail: "No such \(what).")
    }

    public static let unauthenticated = Problem(
        .unauthorized, code: "unauthenticated", title: "Authentication required",
        detail: "Send a valid access token as `Authorization: Bearer <token>`.",
        headers: [.wwwAuthenticate: "Bearer"])

    public static func invalidToken(_ detail: String) -> Problem {
        Problem(.unauthorized, code: "invalid_token", title: "The access token is not valid", detail: detail,
                headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
    }

    public static let forbidden = Problem(.forbidden, code: "forbidden", title: "Not allowed")

    public static let internalError = Problem(
        .internalServerError, code: "internal_error", title: "Something went wrong on our side")

    public static let unavailable = Problem(
        .serviceUnavailable, code: "unavailable", title: "A dependency is unavailable; try again shortly")

    /// More requests at once than the service takes (`MAX_CONCURRENT_REQUESTS`): refused at once
    /// rather than queued.
    public static let overloaded = Problem(
        .serviceUnavailable, code: "overloaded", title: "Too many requests at once; try again shortly",
        detail: "The service is handling as many requests as it takes; send the request again shortly.", headers: [.retryAfter: "1"])

    /// The database is restarting or failing over: `unavailable`, with the seconds to wait.
    public static let databaseUnavailable = Problem(
        .serviceUnavailable, code: "unavailable", title: "A dependency is unavailable; try again shortly",
        detail: "The database is not reachable right now; send the request again shortly.", headers: [.retryAfter: "2"])

    /// How a domain error is answered: the one place where the domain's reasons become statuses.
    public init(_ error: DomainError) {
        let status: HTTPResponse.Status =
            switch error.kind {
            case .invalid: .unprocessableContent
            case .malformed: .badRequest
            case .unauthenticated: .unauthorized
            case .notFound: .notFound
            case .conflict: .conflict
            case .forbidden: .forbidden
            case .unprocessable: .unprocessableContent
            case .tooMany: .tooManyRequests
            case .unavailable: .serviceUnavailable
            case .upstreamFailed: .badGateway
            }
        var headers: HTTPFields = [:]
        if let seconds = error.retryAfter { headers[.retryAfter] = String(seconds) }
        self.init(
            status, code: error.code, title: error.title, detail: error.detail, errors: error.errors, extensions: error.extensions,
            headers: headers)
    }
}

/// Turns every error that leaves a route into problem+json: our own problems as they are, domain
/// errors as `Problem(_:)` maps them, the
/// framework's HTTP errors with their status, undecodable bodies as 400, an unreachable database
/// as 503 with `Retry-After`, anything else as a logged 500 that reveals nothing.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch let error as DomainError {
            return try Problem(error).response(from: request, context: context)
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "payload_too_large"
            case .unsupportedMediaType: code = "unsupported_media_type"
            case .badRequest: code = "malformed_request"
            default: code = "http_\(error.status.code)"
            }
            return try Problem(error.status, code: code, title: error.status.reasonPhrase, detail: error.body)
                .response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            return try Problem(.contentTooLarge, code: "payload_too_large", title: "The request body is too large")
                .response(from: request, context: context)
        } catch let error as DecodingError {
            return try Problem.malformed(Self.describe(error)).response(from: request, context: context)
        } catch let error as DatabaseError where error.isUnavailable {
            // A restart or a failover of the database: the client may send the request again in a
            // moment. (A commit whose answer was lost may have happened; the routes' idempotency
            // and unique keys make the second attempt harmless.)
            context.logger.warning("database unavailable", metadata: ["error": "\(error)", "route": "\(request.method) \(context.endpointPath ?? "(no route)")"])
            return try Problem.databaseUnavailable.response(from: request, context: context)
        } catch DatabaseError.nulInParameter {
            // Whatever the route passed on (a query parameter, a header, a path segment) held a NUL.
            return try NULRefusalMiddleware<Context>.problem.response(from: request, context: context)
        } catch {
            // The route's template, not the path: a path may hold a secret (a calendar feed's token).
            context.logger.error("unhandled error", metadata: ["error": "\(error)", "route": "\(request.method) \(context.endpointPath ?? "(no route)")"])
            return try Problem.internalError.response(from: request, context: context)
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "body" : codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context): return "wrong type at \(path(context.codingPath))"
        case .valueNotFound(_, let context): return "null at \(path(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "invalid value at \(path(context.codingPath))"
        @unknown default: return "the body could not be decoded"
        }
    }
}
