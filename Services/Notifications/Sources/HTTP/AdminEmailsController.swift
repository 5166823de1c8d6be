import Foundation
import Hummingbird
import ServiceKit

/// `/v1/notifications/admin/emails`: what is queued and what was sent, for admins.
struct AdminEmailsController: Sendable {
    let store: EmailAdminStore

    func add(to routes: RouteGroups) {
        routes.admin.get("/v1/notifications/admin/emails", use: list)
        routes.admin.post("/v1/notifications/admin/emails/{id}/retry", use: retry)
    }

    struct Page: Encodable, Sendable {
        var items: [EmailAdminStore.Entry]
    }

    /// The query's filters, every problem named.
    static func filter(_ request: Request) throws -> EmailAdminStore.Filter {
        let parameters = request.uri.queryParameters
        var errors: [FieldError] = []
        let user = parameters.get("userId").map { UUID(uuidString: $0) }
        if case .some(nil) = user { errors.append(FieldError(field: "userId", code: "invalid_uuid", message: "A user id.")) }
        let status = parameters.get("status")
        if let status, !EmailAdminStore.statuses.contains(status) {
            errors.append(FieldError(field: "status", code: "invalid_choice", message: "One of: \(EmailAdminStore.statuses.sorted().joined(separator: ", "))."))
        }
        let template = parameters.get("template")
        if let template, EmailTemplate(rawValue: template) == nil {
            errors.append(FieldError(field: "template", code: "invalid_choice", message: "A template name such as WELCOME."))
        }
        let limit = Int(parameters.get("limit") ?? "50") ?? -1
        if !(1...200).contains(limit) { errors.append(FieldError(field: "limit", code: "out_of_range", message: "Between 1 and 200.")) }
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        return EmailAdminStore.Filter(user: user ?? nil, status: status, template: template, limit: limit)
    }

    @Sendable func list(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Page> {
        JSONResponse(.ok, Page(items: try await store.list(try Self.filter(request))))
    }

    /// Sends a FAILED mail again, now (after the transport was mended): a fresh set of attempts.
    @Sendable func retry(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<EmailAdminStore.Entry> {
        JSONResponse(.ok, try await store.retry(try context.uuid(of: "email")))
    }
}
