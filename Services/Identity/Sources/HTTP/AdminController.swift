import Contracts
import Database
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/identity/admin/…`: admins manage users. Every change is audited and published.
struct AdminController: Sendable {
    typealias Context = ServiceRequestContext
    let users: UserRepository

    func add(to routes: RouteGroups) {
        routes.admin.get("/v1/identity/admin/users", use: list)
        routes.admin.get("/v1/identity/admin/users/:id", use: show)
        routes.admin.put("/v1/identity/admin/users/:id/role", use: changeRole)
        routes.admin.put("/v1/identity/admin/users/:id/access-override", use: setAccessOverride)
        routes.admin.delete("/v1/identity/admin/users/:id", use: delete)
        routes.admin.get("/v1/identity/admin/users/:id/audit", use: audit)
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
                let entries = try await users.auditTrail(of: try target(context)).map { entry in
            AuditEntry(
                actorId: entry.actor.lowercased, action: entry.action,
                details: (try? JSONB(entry.details).decode([String: String].self)) ?? [:], at: entry.at)
        }
        return JSONResponse(.ok, AuditTrail(items: entries))
    }

    struct Page: Encodable, Sendable {
        var items: [UserBody]
        var nextCursor: String?
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> JSONResponse<Page> {
                let parameters = request.uri.queryParameters
        let limitText = parameters.get("limit") ?? "50"
        guard let limit = Int(limitText), (1...200).contains(limit) else {
            throw Problem.validation([FieldError(field: "limit", code: "out_of_range", message: "Between 1 and 200.")])
        }
        var cursor: UUID?
        if let text = parameters.get("cursor") {
            guard let id = UUID(uuidString: text) else {
                throw Problem.validation([FieldError(field: "cursor", code: "invalid_cursor", message: "Use the nextCursor of the previous page.")])
            }
            cursor = id
        }
        let query = parameters.get("query").map { String($0.prefix(200)) }.flatMap { $0.isEmpty ? nil : $0 }
        let found = try await users.list(query: query, limit: limit + 1, after: cursor)
        let items = Array(found.prefix(limit))
        return JSONResponse(.ok, Page(items: items.map(UserBody.init), nextCursor: found.count > limit ? items.last?.id.lowercased : nil))
    }

    func target(_ context: Context) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else { throw Problem.notFound("user") }
        return id
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
                guard let user = try await users.user(try target(context)) else { throw Problem.notFound("user") }
        return JSONResponse(.ok, UserBody(user))
    }

    struct RoleRequest: Decodable {
        var role: String?
    }

    @Sendable func changeRole(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let admin = try context.user
        let id = try target(context)
        let input = try await request.decode(as: RoleRequest.self, context: context)
        guard let role = input.role, Role(known: role) != nil else {
            throw Problem.validation([FieldError(field: "role", code: "invalid_choice", message: "One of: ADMIN, USER.")])
        }
        do {
            return JSONResponse(.ok, UserBody(try await users.changeRole(id, to: role, by: admin.id, now: Date())))
        } catch IdentityError.notFound {
            throw Problem.notFound("user")
        } catch IdentityError.lastAdmin {
            throw Problem(.conflict, code: "last_admin", title: "The last admin cannot stop being one")
        }
    }

    struct OverrideRequest: Decodable {
        var accessOverride: Bool?
    }

    @Sendable func setAccessOverride(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let admin = try context.user
        let id = try target(context)
        let input = try await request.decode(as: OverrideRequest.self, context: context)
        guard let value = input.accessOverride else {
            throw Problem.validation([FieldError(field: "accessOverride", code: "required", message: "true or false.")])
        }
        do {
            return JSONResponse(.ok, UserBody(try await users.setAccessOverride(id, to: value, by: admin.id, now: Date())))
        } catch IdentityError.notFound {
            throw Problem.notFound("user")
        }
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let admin = try context.user
        let id = try target(context)
        do {
            try await users.delete(id, by: admin.id.lowercased, auditedBy: admin.id, now: Date())
        } catch IdentityError.notFound {
            throw Problem.notFound("user")
        } catch IdentityError.lastAdmin {
            throw Problem(.conflict, code: "last_admin", title: "The last admin cannot be deleted")
        }
        return Response(status: .noContent)
    }
}
