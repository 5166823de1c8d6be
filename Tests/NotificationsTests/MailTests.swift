import Foundation
import Notifications
import Testing

@Suite struct MailTests {
    @Test func welcomeMailRendersAndEscapesHTML() throws {
        let mail = try MailRenderer().render(.welcome, data: ["name": "Ada <3", "email": "ada@example.com", "courseUrl": "http://x/course"])
        // A subject is a header, not HTML: nothing in it is escaped.
        #expect(mail.subject == "Welcome to Syllabus, Ada <3")
        #expect(mail.text.contains("Hi Ada <3,"))
        #expect(mail.html.contains("Welcome, Ada &lt;3"))
        #expect(!mail.html.contains("Ada <3"))
        #expect(mail.text.contains("http://x/course"))
    }

    @Test func messageIsAValidMultipartMIMEMail() throws {
        let id = UUID()
        let content = RenderedMail(subject: "Grüße", text: "line one\nline two", html: "<p>hi</p>")
        let text = RFC5322.message(OutgoingMail(
            id: id, from: "Syllabus <hello@syllabus.local>", to: "ada@example.com", toName: "Ada \"The\" Lovelace",
            date: Date(timeIntervalSince1970: 0), content: content))
        #expect(text.contains("\r\nTo: \"Ada \\\"The\\\" Lovelace\" <ada@example.com>\r\n"))
        #expect(text.contains("\r\nSubject: =?UTF-8?B?\(Data("Grüße".utf8).base64EncodedString())?=\r\n"))
        #expect(text.contains("\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.contains("Message-ID: <\(id.uuidString.lowercased())@syllabus.mail>"))
        #expect(text.contains("line one\r\nline two"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "every line ends with CRLF")
        let boundary = "syllabus-\(id.uuidString.lowercased())"
        #expect(text.components(separatedBy: "--\(boundary)\r\n").count == 3)
        #expect(text.hasSuffix("--\(boundary)--\r\n"))
    }

    @Test func fileTransportWritesOneFilePerMailAndOverwritesOnResend() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: directory) }
        let transport = try FileMailTransport(directory: directory.path)
        let mail = OutgoingMail(
            id: UUID(), from: "a@b.c", to: "d@e.f", toName: "D", date: Date(),
            content: RenderedMail(subject: "s", text: "t", html: "h"))
        try transport.send(mail)
        try transport.send(mail)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files == ["\(mail.id.uuidString.lowercased()).eml"])
    }
}

@Suite struct TemplateTests {
    @Test func everyTemplateRendersItsDataAndMarketingMailLinksToUnsubscribe() throws {
        let renderer = try MailRenderer()
        let data = [
            "name": "Ada", "email": "ada@example.com", "courseUrl": "http://course.test", "unsubscribeUrl": "http://unsubscribe.test",
            "verificationUrl": "http://verify.test", "resetUrl": "http://reset.test", "expiresAt": "2026-01-01T00:00:00Z",
            "lessonTitle": "Welcome", "lessonId": "l1", "message": "not a video", "periodEnd": "2027-01-01T00:00:00Z", "amount": "£399.00",
            "failedAt": "2026-01-01T00:00:00Z", "newEmail": "ada@new.example", "revertUrl": "http://revert.test",
        ]
        for template in EmailTemplate.allCases {
            let mail = try renderer.render(template, data: data)
            #expect(!mail.subject.isEmpty && !mail.text.isEmpty && mail.html.contains("<html>"), "\(template)")
            #expect(!mail.text.contains("{{") && !mail.html.contains("{{"), "\(template) leaves no tag")
            #expect(mail.text.contains("http://unsubscribe.test") == (template.kind == .marketing), "\(template)")
            #expect(mail.html.contains("http://unsubscribe.test") == (template.kind == .marketing), "\(template)")
        }
        #expect(try renderer.render(.paymentFailed, data: data).text.contains("of £399.00"))
        #expect(!(try renderer.render(.paymentFailed, data: ["name": "Ada"]).text.contains(" of ")), "no amount, no phrase")
    }
}
