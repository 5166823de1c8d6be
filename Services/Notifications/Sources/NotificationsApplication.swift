import Foundation
import Hummingbird
import ServiceKit

/// Builds the notifications service from its configuration: every dependency is made here.
public func buildNotificationsApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: NotificationsMigrations.all)
    let transport = try FileMailTransport(directory: configuration.string("mail.dir", default: "mail"))
    let dispatcher = MailDispatcher(
        database: runtime.database, listenURL: configuration.databaseURL, transport: transport, renderer: try MailRenderer(),
        from: configuration.string("mail.from", default: "Syllabus <hello@syllabus.local>"),
        courseURL: configuration.string("course.url", default: "http://localhost:8083/v1/course"),
        logger: runtime.logger)
    let consumer = try runtime.consumer(NotificationHandlers.all)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    AdminEmailsController(database: runtime.database, verifier: try await runtime.tokenVerifier()).add(to: router)
    return runtime.application(router: router, consumer: consumer, services: [dispatcher], openAPI: NotificationsOpenAPI.document)
}
