import Analytics
import Billing
import Content
import Database
import Foundation
import Hummingbird
import Identity
import Notifications
import Progress
import ServiceKit
import ServiceTesting
import TestSupport
import Testing
import Webhooks

/// Every route of every service, called in process without a token and, for admin routes, with a
/// learner's, answers as its OpenAPI `security` says: a route left open, or documented open and
/// guarded, fails here.
@Suite struct RouteSecurityTests {
    func expectAsDocumented(_ check: RouteSecurityCheck) async throws {
        #expect(!check.routes.isEmpty)
        let mismatches = try await check.mismatches()
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    }

    @Test func identity() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(IdentityMigrations.all) { pool, _ in
            // Identity verifies with its own keys: here the test's, so the check's tokens are valid.
            let hasher = PasswordHasher(cost: 4)
            let dependencies = try await IdentityDependencies(
                database: pool, tokens: try await TokenIssuer(signingKey: tokens.key), hasher: hasher,
                settings: IdentitySettings(publicURL: "http://identity.test"), logger: TestEnvironment.logger)
            let router = buildIdentityRouter(dependencies)
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: IdentityOpenAPI.document, tokens: tokens))
            try await hasher.shutdown()
        }
    }

    @Test func progress() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(ProgressMigrations.all) { pool, _ in
            let router = buildProgressRouter(.init(database: pool, verifier: tokens.verifier, logger: TestEnvironment.logger))
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: ProgressOpenAPI.document, tokens: tokens))
        }
    }

    /// Content's routes with its learning plans': one service, one document.
    @Test func content() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(ContentMigrations.all) { pool, _ in
            let router = buildContentRouter(.init(database: pool, verifier: tokens.verifier, logger: TestEnvironment.logger))
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: ContentOpenAPI.document, tokens: tokens))
        }
    }

    @Test func billing() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(BillingMigrations.all) { pool, _ in
            let router = buildBillingRouter(
                .init(database: pool, verifier: tokens.verifier, settings: BillingSettings(webhookSecret: "whsec_route_security"), logger: TestEnvironment.logger))
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: BillingOpenAPI.document, tokens: tokens))
        }
    }

    @Test func notifications() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(NotificationsMigrations.all) { pool, _ in
            let router = buildNotificationsRouter(
                .init(
                    database: pool, verifier: tokens.verifier, settings: NotificationsSettings(unsubscribeSecret: "route-security-secret"),
                    logger: TestEnvironment.logger))
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: NotificationsOpenAPI.document, tokens: tokens))
        }
    }

    @Test func analytics() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(AnalyticsMigrations.all) { pool, _ in
            let router = buildAnalyticsRouter(
                .init(database: pool, verifier: tokens.verifier, settings: AnalyticsSettings(), logger: TestEnvironment.logger))
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: AnalyticsOpenAPI.document, tokens: tokens))
        }
    }

    @Test func webhooks() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(WebhooksMigrations.all) { pool, _ in
            let router = buildWebhooksRouter(
                .init(database: pool, verifier: tokens.verifier, settings: WebhooksSettings(), archiveURL: "amqp://unused", logger: TestEnvironment.logger))
            try await expectAsDocumented(RouteSecurityCheck(router: router, document: WebhooksOpenAPI.document, tokens: tokens))
        }
    }
}

/// The check itself finds what it is for.
@Suite struct RouteSecurityCheckTests {
    static let document = """
        openapi: 3.1.0
        paths:
          /open:
            get:
              responses: {}
          /mine:
            get:
              security:
                - bearerAuth: []
              responses: {}
          /admin:
            post:
              security:
                - bearerAuth: [admin]
              responses: {}
        components: {}
        """

    func router(mine: Access, admin: Access, tokens: TestTokens) -> Router<ServiceRequestContext> {
        let routes = ServiceRuntime.routes(verifier: tokens.verifier)
        routes.open.get("/open") { _, _ in "hello" }
        routes[mine].get("/mine") { _, context in (try? context.user.id.uuidString) ?? "nobody" }
        routes[admin].post("/admin") { _, _ in "done" }
        return routes.router
    }

    @Test func readsTheDocumentedAccessOfEachOperation() {
        #expect(DocumentedSecurity.operations(Self.document) == ["GET /open": .open, "GET /mine": .learner, "POST /admin": .admin])
    }

    @Test func passesWhenEveryGroupHasItsGuard() async throws {
        let tokens = try await TestTokens()
        var check = RouteSecurityCheck(router: router(mine: .learner, admin: .admin, tokens: tokens), document: Self.document, tokens: tokens)
        check.undocumented = RouteSecurityCheck.standardRoutes
        #expect(try await check.mismatches() == [])
    }

    @Test func failsWhenAGroupLosesItsMiddleware() async throws {
        let tokens = try await TestTokens()
        let open = RouteSecurityCheck(router: router(mine: .open, admin: .learner, tokens: tokens), document: Self.document, tokens: tokens)
        let found = try await open.mismatches()
        #expect(found.contains { $0.hasPrefix("GET /mine: documented learner, but answers 200 without a token") })
        #expect(found.contains { $0.hasPrefix("POST /admin: documented admin, but answers 200 to a learner") })
    }

    @Test func failsWhenARouteIsUndocumentedOrMissing() async throws {
        let tokens = try await TestTokens()
        let routes = ServiceRuntime.routes(verifier: tokens.verifier)
        routes.open.get("/open") { _, _ in "hello" }
        routes.learner.get("/secret") { _, _ in "hello" }
        let found = try await RouteSecurityCheck(router: routes.router, document: Self.document, tokens: tokens).mismatches()
        #expect(found.contains("GET /secret: routed but not documented"))
        #expect(found.contains("GET /mine: documented but not routed"))
    }
}
