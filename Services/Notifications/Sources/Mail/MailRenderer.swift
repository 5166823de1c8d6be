import Foundation
import Mustache

/// A rendered mail: subject, plain text and HTML.
public struct RenderedMail: Sendable, Equatable {
    public var subject: String
    public var text: String
    public var html: String

    public init(subject: String, text: String, html: String) {
        self.subject = subject
        self.text = text
        self.html = html
    }
}

/// Renders templates with Mustache. Templates live in the program (no files to ship); HTML
/// values are escaped by Mustache, plain-text ones are not.
public struct MailRenderer: Sendable {
    private let library: MustacheLibrary

    public init() throws {
        var library = MustacheLibrary()
        for (name, source) in MailTemplates.sources {
            try library.register(MustacheTemplate(string: source), named: name)
        }
        self.library = library
    }

    public func render(_ template: EmailTemplate, data: [String: String]) throws -> RenderedMail {
        let key = template.rawValue.lowercased()
        guard let subject = library.render(data, withTemplate: "\(key).subject"),
            let text = library.render(data, withTemplate: "\(key).text"),
            let html = library.render(data, withTemplate: "\(key).html")
        else { throw MailError.unknownTemplate(template.rawValue) }
        return RenderedMail(subject: subject.trimmingCharacters(in: .whitespacesAndNewlines), text: text, html: html)
    }
}

public enum MailError: Error, CustomStringConvertible {
    case unknownTemplate(String)
    case transport(String)

    public var description: String {
        switch self {
        case .unknownTemplate(let name): "no template \(name)"
        case .transport(let message): "mail transport failed: \(message)"
        }
    }
}

enum MailTemplates {
    static let layoutStart = """
        <!doctype html>
        <html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2937; max-width: 560px; margin: 0 auto; padding: 24px;">
        """
    static let layoutEnd = """
        <p style="color: #6b7280; font-size: 12px; margin-top: 32px;">Syllabus</p>
        </body></html>
        """

    static let sources: [String: String] = [
        "welcome.subject": "Welcome to Syllabus, {{name}}",
        "welcome.text": """
            Hi {{&name}},

            Welcome to Syllabus. Your account for {{&email}} is ready.

            Start with the first lesson — it is free:
            {{&courseUrl}}

            See you inside,
            The Syllabus team
            """,
        "welcome.html": layoutStart + """
            <h1 style="font-size: 22px;">Welcome, {{name}}</h1>
            <p>Your account for <strong>{{email}}</strong> is ready.</p>
            <p>Start with the first lesson — it is free.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Start learning</a></p>
            """ + layoutEnd,

        "verify_email.subject": "Confirm your email address",
        "verify_email.text": """
            Hi {{&name}},

            Please confirm that {{&email}} is your address by opening this link:
            {{&verificationUrl}}

            The link works once and expires on {{&expiresAt}}. If you did not ask for it, ignore this mail.
            """,
        "verify_email.html": layoutStart + """
            <h1 style="font-size: 22px;">Confirm your email address</h1>
            <p>Hi {{name}}, please confirm that <strong>{{email}}</strong> is your address.</p>
            <p><a href="{{verificationUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Confirm my address</a></p>
            <p style="color: #6b7280;">The link works once and expires on {{expiresAt}}. If you did not ask for it, ignore this mail.</p>
            """ + layoutEnd,

        "password_reset.subject": "Reset your Syllabus password",
        "password_reset.text": """
            Hi {{&name}},

            Someone asked to reset the password of your Syllabus account. To choose a new one, open:
            {{&resetUrl}}

            The link works once, for one hour. If it was not you, ignore this mail: your password stays as it is.
            """,
        "password_reset.html": layoutStart + """
            <h1 style="font-size: 22px;">Reset your password</h1>
            <p>Hi {{name}}, someone asked to reset the password of your Syllabus account.</p>
            <p><a href="{{resetUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Choose a new password</a></p>
            <p style="color: #6b7280;">The link works once, for one hour. If it was not you, ignore this mail: your password stays as it is.</p>
            """ + layoutEnd,
    ]
}
