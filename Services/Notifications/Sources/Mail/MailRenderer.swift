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
        "welcome.subject": "Welcome to Syllabus, {{&name}}",
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
        "email_change_requested.subject": "Your Syllabus sign-in address is being changed",
        "email_change_requested.text": """
            Hi {{&name}},

            Someone asked to change the address you sign in to Syllabus with to {{&newEmail}}. It takes
            effect once that address is confirmed.

            If it was not you, take your account back (this also ends every session and asks you for a
            new password):
            {{&revertUrl}}

            The link works once, until {{expiresAt}}.
            """,
        "email_change_requested.html": layoutStart + """
            <h1 style="font-size: 22px;">Your sign-in address is being changed</h1>
            <p>Hi {{name}}, someone asked to change the address you sign in to Syllabus with to <strong>{{newEmail}}</strong>. It takes effect once that address is confirmed.</p>
            <p>If it was not you, take your account back (this also ends every session and asks you for a new password):</p>
            <p><a href="{{revertUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">This was not me</a></p>
            <p style="color: #6b7280;">The link works once, until {{expiresAt}}.</p>
            """ + layoutEnd,
        "video_failed.subject": "A lesson video could not be processed: {{&lessonTitle}}",
        "video_failed.text": """
            Hi {{&name}},

            Mux could not process the video uploaded for the lesson "{{&lessonTitle}}" ({{&lessonId}}):
            {{&message}}

            Upload the video again from the lesson's page in the authoring tools.
            """,
        "video_failed.html": layoutStart + """
            <h1 style="font-size: 22px;">A video could not be processed</h1>
            <p>Mux could not process the video uploaded for <strong>{{lessonTitle}}</strong>:</p>
            <p style="color: #b91c1c;">{{message}}</p>
            <p>Upload the video again from the lesson's page in the authoring tools.</p>
            """ + layoutEnd,
        "webhook_disabled.subject": "A webhook endpoint was disabled: {{&origin}}",
        "webhook_disabled.text": """
            Hi {{&name}},

            The webhook endpoint at {{&origin}} ({{&description}}, id {{&endpointId}}) failed every delivery since {{&failingSince}} and was disabled. Last outcome: {{&lastError}}

            Its events are kept and wait. Once the endpoint answers again, enable it (PATCH /v1/webhooks/endpoints/{{&endpointId}} with "enabled": true) and it receives them in order.
            """,
        "webhook_disabled.html": layoutStart + """
            <h1 style="font-size: 22px;">A webhook endpoint was disabled</h1>
            <p>The endpoint at <strong>{{origin}}</strong> ({{description}}) failed every delivery since {{failingSince}} and was disabled.</p>
            <p style="color: #b91c1c;">Last outcome: {{lastError}}</p>
            <p>Its events are kept and wait. Once the endpoint answers again, enable it and it receives them in order.</p>
            """ + layoutEnd,

        "start_journey.subject": "Your first lesson is waiting, {{&name}}",
        "start_journey.text": """
            Hi {{&name}},

            You signed up yesterday, and your first lesson is still waiting. It is free and takes a few minutes:
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "start_journey.html": layoutStart + """
            <h1 style="font-size: 22px;">Your first lesson is waiting</h1>
            <p>Hi {{name}}, you signed up yesterday. The first lesson is free and takes a few minutes.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Start the free lesson</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "abandonment_1.subject": "Ready for lesson two?",
        "abandonment_1.text": """
            Hi {{&name}},

            Well done on finishing the first lesson. The rest of the course opens with a subscription:
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "abandonment_1.html": layoutStart + """
            <h1 style="font-size: 22px;">Ready for lesson two?</h1>
            <p>Well done on finishing the first lesson, {{name}}. The rest of the course opens with a subscription.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">See the course</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "abandonment_2.subject": "What the next modules cover",
        "abandonment_2.text": """
            Hi {{&name}},

            Yesterday you finished the free lesson. The modules after it build on it step by step; have a look at what they cover:
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "abandonment_2.html": layoutStart + """
            <h1 style="font-size: 22px;">What comes next</h1>
            <p>Yesterday you finished the free lesson, {{name}}. The modules after it build on it step by step.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">See what they cover</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "abandonment_3.subject": "Still thinking it over?",
        "abandonment_3.text": """
            Hi {{&name}},

            It has been a few days since your free lesson. If the course is for you, everything is one subscription away:
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "abandonment_3.html": layoutStart + """
            <h1 style="font-size: 22px;">Still thinking it over?</h1>
            <p>It has been a few days since your free lesson, {{name}}. If the course is for you, everything is one subscription away.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Continue the course</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "module_complete.subject": "You completed a module",
        "module_complete.text": """
            Hi {{&name}},

            You completed a module, well done. The next one is open:
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "module_complete.html": layoutStart + """
            <h1 style="font-size: 22px;">Module complete</h1>
            <p>Well done, {{name}}: you completed a module. The next one is open.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Go on</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "course_complete.subject": "You completed the course!",
        "course_complete.text": """
            Hi {{&name}},

            You completed every lesson of the course. Congratulations!
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "course_complete.html": layoutStart + """
            <h1 style="font-size: 22px;">Course complete</h1>
            <p>Congratulations, {{name}}: you completed every lesson of the course.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Look back at the course</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "inactive_nudge.subject": "We have not seen you for a week",
        "inactive_nudge.text": """
            Hi {{&name}},

            It has been a week since you last studied. Twenty minutes today keeps the thread:
            {{&courseUrl}}

            You get this mail because you have a Syllabus account. Unsubscribe from these mails in one click:
            {{&unsubscribeUrl}}
            """,
        "inactive_nudge.html": layoutStart + """
            <h1 style="font-size: 22px;">Pick up where you left off</h1>
            <p>It has been a week since you last studied, {{name}}. Twenty minutes today keeps the thread.</p>
            <p><a href="{{courseUrl}}" style="background: #4f46e5; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none;">Continue</a></p>
            <p style="color: #6b7280; font-size: 12px;">You get this mail because you have a Syllabus account. <a href="{{unsubscribeUrl}}" style="color: #6b7280;">Unsubscribe</a> from these mails.</p>
            """ + layoutEnd,

        "renewal_reminder.subject": "Your annual subscription renews on {{&periodEnd}}",
        "renewal_reminder.text": """
            Hi {{&name}},

            Your annual subscription renews on {{&periodEnd}}{{#amount}} for {{&amount}}{{/amount}}. Nothing to do if you want to keep it; to change or cancel it, open your account.
            """,
        "renewal_reminder.html": layoutStart + """
            <h1 style="font-size: 22px;">Your subscription renews soon</h1>
            <p>Hi {{name}}, your annual subscription renews on <strong>{{periodEnd}}</strong>{{#amount}} for {{amount}}{{/amount}}.</p>
            <p>Nothing to do if you want to keep it; to change or cancel it, open your account.</p>
            """ + layoutEnd,

        "payment_failed.subject": "Your payment did not go through",
        "payment_failed.text": """
            Hi {{&name}},

            We could not take your payment{{#amount}} of {{&amount}}{{/amount}}. Your access continues while we try again; please update your card in your account.
            """,
        "payment_failed.html": layoutStart + """
            <h1 style="font-size: 22px;">Your payment did not go through</h1>
            <p>Hi {{name}}, we could not take your payment{{#amount}} of {{amount}}{{/amount}}. Your access continues while we try again.</p>
            <p>Please update your card in your account.</p>
            """ + layoutEnd,

        "payment_failed_final.subject": "Last reminder: your payment is still due",
        "payment_failed_final.text": """
            Hi {{&name}},

            Your payment{{#amount}} of {{&amount}}{{/amount}} has been failing for three days. Please update your card in your account to keep your access.
            """,
        "payment_failed_final.html": layoutStart + """
            <h1 style="font-size: 22px;">Your payment is still due</h1>
            <p>Hi {{name}}, your payment{{#amount}} of {{amount}}{{/amount}} has been failing for three days.</p>
            <p>Please update your card in your account to keep your access.</p>
            """ + layoutEnd,

        "subscription_cancelled.subject": "Your subscription has ended",
        "subscription_cancelled.text": """
            Hi {{&name}},

            Your subscription has ended. Your progress is kept: subscribe again any time to pick up where you left off.
            {{&courseUrl}}
            """,
        "subscription_cancelled.html": layoutStart + """
            <h1 style="font-size: 22px;">Your subscription has ended</h1>
            <p>Hi {{name}}, your progress is kept: subscribe again any time to pick up where you left off.</p>
            """ + layoutEnd,
    ]
}
