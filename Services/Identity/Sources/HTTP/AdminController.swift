import Foundation
import Hummingbird
import ServiceKit

/// `/v1/identity/admin/…`: admins manage users. Every change is audited and published.
struct AdminController: Sendable {
    typealias Context = ServiceRequestContext
    let administration: UserAdministration

    func add(to routes: RouteGroups) {
        routes.admin.get("/v1/identity/admin/users", use: list)
        routes.admin.get("/v1/identity/admin/users/{id}", use: show)
        routes.admin.put("/v1/identity/admin/users/{id}/role", use: changeRole)
        routes.admin.put("/v1/identity/admin/users/{id}/access-override", use: setAccessOverride)
        routes.admin.delete("/v1/identity/admin/users/{id}", use: delete)
        routes.admin.get("/v1/identity/admin/users/{id}/audit", use: audit)
    }

    struct AuditEntry: Encodable, Sendable {
        var actorId: String
        var action: String
        var details: [String: String]
        var at: Date
    }

    struct AuditTrail: Encodable, Sendable {
        var items: [AuditEntry]
    }

    @Sendable func audit(_ request: Request, context: Context) async throws -> JSONResponse<AuditTrail> {
        let entries = try await administration.audit(of: try target(context))
        return JSONResponse(
            .ok, AuditTrail(items: entries.map { AuditEntry(actorId: $0.actor.lowercased, action: $0.action, details: $0.details, at: $0.at) }))
    }

    struct Page: Encodable, Sendable {
        var items: [UserBody]
        var nextCursor: String?
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> JSONResponse<Page> {
        let parameters = request.uri.queryParameters
        let page = try await administration.list(
            query: parameters.get("query"), limit: parameters.get("limit"), cursor: parameters.get("cursor"))
        return JSONResponse(.ok, Page(items: page.items.map(UserBody.init), nextCursor: page.nextCursor))
    }

    /// The user of the path; an id that is not one names no user.
    func target(_ context: Context) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else { throw DomainError.userNotFound }
        return id
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        JSONResponse(.ok, UserBody(try await administration.user(try target(context))))
    }

    struct RoleRequest: Decodable {
        var role: String?
    }

    @Sendable func changeRole(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let admin = try context.user
        let id = try target(context)
        let input = try await request.decode(as: RoleRequest.self, context: context)
        return JSONResponse(.ok, UserBody(try await administration.changeRole(of: id, to: input.role, by: admin.id)))
    }

    struct OverrideRequest: Decodable {
        var accessOverride: Bool?
    }

    @Sendable func setAccessOverride(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let admin = try context.user
        let id = try target(context)
        let input = try await request.decode(as: OverrideRequest.self, context: context)
        return JSONResponse(.ok, UserBody(try await administration.setAccessOverride(of: id, to: input.accessOverride, by: admin.id)))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let admin = try context.user
        try await administration.delete(try target(context), by: admin.id)
        return Response(status: .noContent)
    }
}
