import Foundation
import Hummingbird
import ServiceKit

/// Builds the notifications service from its configuration: every dependency is made here.
public func buildNotificationsApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: NotificationsMigrations.all)
    let transport: any MailTransport
    switch configuration.string("mail.transport", default: "file") {
    case "file":
        transport = try FileMailTransport(directory: configuration.string("mail.dir", default: "mail"))
    case "smtp":
        guard let url = configuration.nonEmpty("mail.smtp.url") else { throw ConfigurationError.missing("MAIL_SMTP_URL") }
        transport = try SMTPMailTransport(
            url: url, startTLS: configuration.string("mail.smtp.starttls", default: "false") == "true",
            username: configuration.nonEmpty("mail.smtp.username"), password: configuration.nonEmpty("mail.smtp.password"))
    default:
        throw ConfigurationError.invalid("MAIL_TRANSPORT must be file or smtp")
    }
    guard let secret = configuration.nonEmpty("unsubscribe.secret") else { throw ConfigurationError.missing("NOTIFICATIONS_UNSUBSCRIBE_SECRET") }
    let links = UnsubscribeLinks(secret: secret, baseURL: configuration.string("public.url", default: "http://localhost:8085"))
    let dispatcher = MailDispatcher(
        database: runtime.database, listenURL: configuration.databaseURL, transport: transport, renderer: try MailRenderer(),
        from: configuration.string("mail.from", default: "Syllabus <hello@syllabus.local>"),
        courseURL: configuration.string("course.url", default: "http://localhost:8083/v1/course"), unsubscribe: links,
        claimLease: TimeInterval(configuration.int("mail.claim.lease.seconds", default: Int(MailDispatcher.claimLease))),
        logger: runtime.logger)
    let consumer = try runtime.consumer(NotificationHandlers.all)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    AdminEmailsController(database: runtime.database, verifier: try await runtime.tokenVerifier()).add(to: router)
    UnsubscribeController(database: runtime.database, links: links).add(to: router)
    return runtime.application(router: router, consumer: consumer, services: [dispatcher], openAPI: NotificationsOpenAPI.document)
}
