import Foundation
import ServiceKit

/// Notifications' own settings, read once at start (`NOTIFICATIONS_<KEY>` or `<KEY>`).
public struct NotificationsSettings: Sendable {
    /// How mail leaves: `MAIL_TRANSPORT` = file (`MAIL_DIR`) or smtp (`MAIL_SMTP_URL`,
    /// `MAIL_SMTP_STARTTLS`, `MAIL_SMTP_USERNAME`, `MAIL_SMTP_PASSWORD`).
    public enum Transport: Sendable {
        case file(directory: String)
        case smtp(url: String, startTLS: Bool, username: String?, password: String?)
    }

    public var transport: Transport
    /// `UNSUBSCRIBE_SECRET` (required) and `PUBLIC_URL`: what one-click unsubscribe links are
    /// signed with and where they point.
    public var unsubscribeSecret: String
    /// `UNSUBSCRIBE_PREVIOUS_SECRETS` (comma-separated): secrets links sent before a rotation were
    /// signed with; they are still honoured, and no new link is signed with them.
    public var previousUnsubscribeSecrets: [String] = []
    public var publicURL: String
    /// `MAIL_FROM`.
    public var from: String
    /// `COURSE_URL`: where mail sends learners.
    public var courseURL: String
    /// `MAIL_CLAIM_LEASE_SECONDS`: how long a claimed mail is kept from other workers.
    public var claimLease: TimeInterval
    /// `MAIL_RETENTION_DAYS`: how long finished mail is kept (see `MailRetention`).
    public var retentionDays: Int

    public init(
        transport: Transport = .file(directory: "mail"), unsubscribeSecret: String, publicURL: String = "http://localhost:8085",
        from: String = "Syllabus <hello@syllabus.local>", courseURL: String = "http://localhost:8083/v1/course",
        claimLease: TimeInterval = MailDispatcher.claimLease, retentionDays: Int = 365
    ) {
        self.transport = transport
        self.unsubscribeSecret = unsubscribeSecret
        self.publicURL = publicURL
        self.from = from
        self.courseURL = courseURL
        self.claimLease = claimLease
        self.retentionDays = retentionDays
    }

    public static func load(from configuration: ServiceConfiguration) throws -> NotificationsSettings {
        let transport: Transport
        switch configuration.string("mail.transport", default: "file") {
        case "file":
            transport = .file(directory: configuration.string("mail.dir", default: "mail"))
        case "smtp":
            guard let url = configuration.nonEmpty("mail.smtp.url") else { throw ConfigurationError.missing("MAIL_SMTP_URL") }
            transport = .smtp(
                url: url, startTLS: configuration.string("mail.smtp.starttls", default: "false") == "true",
                username: configuration.nonEmpty("mail.smtp.username"), password: configuration.nonEmpty("mail.smtp.password"))
        default:
            throw ConfigurationError.invalid("MAIL_TRANSPORT must be file or smtp")
        }
        guard let secret = configuration.nonEmpty("unsubscribe.secret") else { throw ConfigurationError.missing("NOTIFICATIONS_UNSUBSCRIBE_SECRET") }
        let retentionDays = configuration.int("mail.retention.days", default: 365)
        guard retentionDays >= MailRetention.minimumDays else {
            throw ConfigurationError.invalid("MAIL_RETENTION_DAYS must be at least \(MailRetention.minimumDays)")
        }
        var settings = NotificationsSettings(
            transport: transport, unsubscribeSecret: secret, publicURL: configuration.string("public.url", default: "http://localhost:8085"),
            from: configuration.string("mail.from", default: "Syllabus <hello@syllabus.local>"),
            courseURL: configuration.string("course.url", default: "http://localhost:8083/v1/course"),
            claimLease: TimeInterval(configuration.int("mail.claim.lease.seconds", default: Int(MailDispatcher.claimLease))), retentionDays: retentionDays)
        settings.previousUnsubscribeSecrets = configuration.list("unsubscribe.previous.secrets")
        if let short = settings.previousUnsubscribeSecrets.first(where: { $0.count < 32 }) {
            throw ConfigurationError.invalid("NOTIFICATIONS_UNSUBSCRIBE_PREVIOUS_SECRETS: each secret is at least 32 characters (one has \(short.count))")
        }
        return settings
    }

    public var unsubscribeLinks: UnsubscribeLinks {
        UnsubscribeLinks(secret: unsubscribeSecret, previousSecrets: previousUnsubscribeSecrets, baseURL: publicURL)
    }

    /// Where the file transport writes, when mail goes to files.
    public var mailDirectory: URL? {
        if case .file(let directory) = transport { return URL(fileURLWithPath: directory, isDirectory: true) }
        return nil
    }

    public func makeTransport() throws -> any MailTransport {
        switch transport {
        case .file(let directory):
            try FileMailTransport(directory: directory)
        case .smtp(let url, let startTLS, let username, let password):
            try SMTPMailTransport(url: url, startTLS: startTLS, username: username, password: password)
        }
    }
}
