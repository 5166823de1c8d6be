import Foundation
import Hummingbird
import ServiceKit

/// `/v1/integrations…`: a learner connects Notion or Google Calendar (the app sends the OAuth
/// authorization code it was given; the server exchanges it and keeps the tokens sealed), and
/// exports plans through them.
struct IntegrationsController: Sendable {
    let integrations: Integrations

    func add(to routes: RouteGroups) {
        routes.learner.get("/v1/integrations", use: list)
        routes.learner.post("/v1/integrations/{provider}/connect", use: connect)
        routes.learner.delete("/v1/integrations/{provider}", use: disconnect)
        routes.learner.post("/v1/plans/{id}/exports/notion", use: exportToNotion)
        routes.learner.post("/v1/plans/{id}/exports/google-calendar", use: syncToGoogle)
    }

    static func provider(_ context: ServiceRequestContext) throws -> Integrations.Provider {
        guard let provider = context.parameters.get("provider").flatMap(Integrations.Provider.init(path:)) else {
            throw DomainError.notFound("integration (notion or google-calendar)")
        }
        return provider
    }

    struct ConnectionList: Encodable, Sendable {
        var integrations: [Integrations.Connection]
    }

    @Sendable func list(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ConnectionList> {
        let caller = try context.user
        return JSONResponse(.ok, ConnectionList(integrations: try await integrations.connections(of: caller.id)))
    }

    struct ConnectInput: Decodable {
        var code: String?
        var redirectUri: String?
    }

    @Sendable func connect(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Integrations.Connection> {
        let caller = try context.user
        let provider = try Self.provider(context)
        let input = try await request.decode(as: ConnectInput.self, context: context)
        var errors: [FieldError] = []
        if !(1...2048).contains(input.code?.count ?? 0) { errors.append(FieldError(field: "code", code: "required", message: "The authorization code.")) }
        let redirect = input.redirectUri.flatMap(URL.init(string:))
        if redirect == nil || !["http", "https"].contains(redirect?.scheme ?? "") || (input.redirectUri?.count ?? 0) > 2048 {
            errors.append(FieldError(field: "redirectUri", code: "invalid_url", message: "The redirect URI the code was issued for."))
        }
        guard errors.isEmpty, let code = input.code, let redirectURI = input.redirectUri else { throw DomainError.validation(errors) }
        return JSONResponse(.ok, try await integrations.connect(provider, code: code, redirectURI: redirectURI, user: caller.id, now: Date()))
    }

    @Sendable func disconnect(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let caller = try context.user
        try await integrations.disconnect(try Self.provider(context), user: caller.id)
        return Response(status: .noContent)
    }

    struct NotionInput: Decodable {
        var parentPageId: String?
    }

    @Sendable func exportToNotion(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Integrations.Export> {
        let caller = try context.user
        let plan = try context.uuid(of: "plan")
        let input = try await request.decode(as: NotionInput.self, context: context)
        // A Notion id: 32 hex digits, with or without dashes.
        let parent = input.parentPageId?.replacingOccurrences(of: "-", with: "") ?? ""
        guard parent.count == 32, parent.allSatisfy(\.isHexDigit) else {
            throw DomainError.validation([FieldError(field: "parentPageId", code: "invalid_id", message: "The Notion page to export under (its id).")])
        }
        return JSONResponse(.created, try await integrations.exportToNotion(plan, parentPage: parent, user: caller.id, now: Date()))
    }

    struct GoogleInput: Decodable {
        var calendarId: String?
    }

    @Sendable func syncToGoogle(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Integrations.Export> {
        let caller = try context.user
        let plan = try context.uuid(of: "plan")
        let input = try await request.decodeIfPresent(as: GoogleInput.self, context: context) ?? GoogleInput()
        let calendar = input.calendarId ?? "primary"
        // Counted in bytes, as stored: a character may hold any number of them.
        guard (1...255).contains(calendar.utf8.count), !calendar.contains("/") else {
            throw DomainError.validation([FieldError(field: "calendarId", code: "invalid_id", message: "A Google calendar id, or primary.")])
        }
        return JSONResponse(.ok, try await integrations.syncToGoogle(plan, calendar: calendar, user: caller.id, now: Date()))
    }
}
