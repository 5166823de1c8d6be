import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// What notifications' routes need; made by `buildNotificationsApplication`, or by a test.
public struct NotificationsDependencies: Sendable {
    public var database: DatabasePool
    public var verifier: TokenVerifier
    public var settings: NotificationsSettings
    public var logger: Logger

    public init(database: DatabasePool, verifier: TokenVerifier, settings: NotificationsSettings, logger: Logger) {
        self.database = database
        self.verifier = verifier
        self.settings = settings
        self.logger = logger
    }
}

/// Notifications' routes, each in the group of who may call it.
public func buildNotificationsRouter(_ dependencies: NotificationsDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    AdminEmailsController(store: EmailAdminStore(database: dependencies.database)).add(to: routes)
    UnsubscribeController(database: dependencies.database, links: dependencies.settings.unsubscribeLinks).add(to: routes)
    return routes.router
}

/// Builds the notifications service from its configuration: every dependency is made here.
public func buildNotificationsApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let settings = try NotificationsSettings.load(from: configuration)
    let runtime = try await ServiceRuntime.start(configuration, migrations: NotificationsMigrations.all)
    let dispatcher = MailDispatcher(
        database: runtime.database, listenURL: configuration.databaseURL, transport: try settings.makeTransport(), renderer: try MailRenderer(),
        from: settings.from, courseURL: settings.courseURL, unsubscribe: settings.unsubscribeLinks, claimLease: settings.claimLease,
        logger: runtime.logger)
    let router = buildNotificationsRouter(
        NotificationsDependencies(database: runtime.database, verifier: try await runtime.tokenVerifier(), settings: settings, logger: runtime.logger))
    return runtime.application(
        router: router, consumer: try runtime.consumer(NotificationHandlers.all), services: [
            dispatcher.worker, dispatcher.monitor,
            MailRetention.worker(days: settings.retentionDays, database: runtime.database, mailDirectory: settings.mailDirectory, logger: runtime.logger),
        ], openAPI: NotificationsOpenAPI.document)
}
