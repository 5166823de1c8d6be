import Foundation
import Hummingbird
import ServiceKit

/// `/v1/me`: the caller's own profile and account.
struct ProfileController: Sendable {
    typealias Context = ServiceRequestContext
    let accounts: Accounts
    let settings: IdentitySettings

    func add(to routes: RouteGroups) {
        routes.learner.get("/v1/me", use: show)
        routes.learner.patch("/v1/me", use: update)
        routes.learner.delete("/v1/me", use: delete)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let caller = try context.user
        return JSONResponse(.ok, UserBody(try await accounts.profile(caller.id)))
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let caller = try context.user
        let change = try await request.decode(as: ProfileChange.self, context: context)
        let user = try await accounts.updateProfile(caller.id, change: change, from: settings.clientAddress(request, context))
        return JSONResponse(.ok, UserBody(user))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.user
        try await accounts.delete(caller.id)
        return Response(status: .noContent)
    }
}
