import Foundation

/// A message ready to hand to a transport. Its description names the mail and nothing else: the
/// body and the headers hold the recipient's links (the unsubscribe token among them).
public struct OutgoingMail: Sendable, Equatable, CustomStringConvertible {
    public var id: UUID
    public var from: String
    public var to: String
    public var toName: String
    public var date: Date
    public var content: RenderedMail
    public var headers: [(String, String)]

    public init(id: UUID, from: String, to: String, toName: String, date: Date, content: RenderedMail, headers: [(String, String)] = []) {
        self.id = id
        self.from = from
        self.to = to
        self.toName = toName
        self.date = date
        self.content = content
        self.headers = headers
    }

    /// `<queue id@syllabus.mail>`: derived from the queue entry alone, so every attempt to send one
    /// entry — a retry after an error, a resend after a crash between sending and recording —
    /// carries the same one, and a receiving system can tell a duplicate.
    public var messageID: String { "<\(id.uuidString.lowercased())@syllabus.mail>" }

    public var description: String { "mail \(id.uuidString.lowercased())" }

    public static func == (lhs: OutgoingMail, rhs: OutgoingMail) -> Bool {
        lhs.id == rhs.id && lhs.from == rhs.from && lhs.to == rhs.to && lhs.content == rhs.content
    }
}

/// Where mail goes. `send` is called on a thread of its own with no database transaction open, so
/// it may block for as long as the network takes; a transport must be safe to call again with the
/// same mail (same `id`, same `messageID`): a crash between sending and recording sends it again.
public protocol MailTransport: Sendable {
    var name: String { get }
    func send(_ mail: OutgoingMail) throws
}

/// Writes each mail as an RFC 5322 `.eml` file named by its queue id (so a resend overwrites it),
/// written to a temporary name and renamed, so a reader never sees half a file.
public struct FileMailTransport: MailTransport {
    public let directory: URL
    public var name: String { "file" }

    public init(directory: String) throws {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    public func send(_ mail: OutgoingMail) throws {
        let final = directory.appendingPathComponent("\(mail.id.uuidString.lowercased()).eml")
        let temporary = directory.appendingPathComponent(".\(mail.id.uuidString.lowercased()).eml.tmp")
        do {
            try Data(RFC5322.message(mail).utf8).write(to: temporary)
        } catch {
            throw MailError.transport("\(error)")
        }
        // rename(2) replaces the target atomically.
        guard rename(temporary.path, final.path) == 0 else {
            throw MailError.transport("cannot rename \(temporary.path): errno \(errno)")
        }
    }
}

/// The text of a MIME message: multipart/alternative with plain text and HTML, CRLF line ends,
/// non-ASCII headers encoded (RFC 2047).
public enum RFC5322 {
    public static func message(_ mail: OutgoingMail) -> String {
        let boundary = "syllabus-\(mail.id.uuidString.lowercased())"
        var lines: [String] = [
            "From: \(mail.from)",
            "To: \(address(name: mail.toName, email: mail.to))",
            "Subject: \(encodedWord(mail.content.subject))",
            "Date: \(date(mail.date))",
            "Message-ID: \(mail.messageID)",
            "MIME-Version: 1.0",
        ]
        for (name, value) in mail.headers { lines.append("\(name): \(value)") }
        lines += [
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            normalize(mail.content.text),
            "--\(boundary)",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            normalize(mail.content.html),
            "--\(boundary)--",
            "",
        ]
        return lines.joined(separator: "\r\n")
    }

    static func normalize(_ body: String) -> String {
        body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
    }

    static func address(name: String, email: String) -> String {
        guard !name.isEmpty else { return "<\(email)>" }
        if name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 32 }) {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(email)>"
        }
        return "\(encodedWord(name)) <\(email)>"
    }

    static func encodedWord(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.unicodeScalars.allSatisfy({ $0.isASCII }) { return clean }
        return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}

/// Hands each mail to an SMTP relay (mailpit, Postfix, a provider's submission port) through
/// curl's SMTP client: plain, or upgraded with STARTTLS (required, never silently skipped), with
/// optional AUTH. The Message-ID is derived from the queue id, so a relay can tell a resend.
public struct SMTPMailTransport: MailTransport {
    /// `smtp://host:port`.
    public let url: String
    public let startTLS: Bool
    public let username: String?
    public let password: String?
    public var name: String { "smtp" }

    public init(url: String, startTLS: Bool, username: String?, password: String?) throws {
        guard let parsed = URL(string: url), parsed.scheme == "smtp", parsed.host?.isEmpty == false else {
            throw MailError.transport("MAIL_SMTP_URL must look like smtp://host:port")
        }
        // Credentials go in MAIL_SMTP_USERNAME/PASSWORD, never in a URL that errors and logs repeat.
        guard parsed.user == nil, parsed.password == nil else {
            throw MailError.transport("MAIL_SMTP_URL must not carry credentials; set MAIL_SMTP_USERNAME and MAIL_SMTP_PASSWORD")
        }
        self.url = url
        self.startTLS = startTLS
        self.username = username
        self.password = password
    }

    /// The bare address of `From: Name <address>`.
    static func envelopeAddress(_ header: String) -> String {
        guard let open = header.lastIndex(of: "<"), let close = header.lastIndex(of: ">"), open < close else {
            return header.trimmingCharacters(in: .whitespaces)
        }
        return String(header[header.index(after: open)..<close])
    }

    public func send(_ mail: OutgoingMail) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("syllabus-mail-\(mail.id.uuidString.lowercased()).eml")
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try Data(RFC5322.message(mail).utf8).write(to: file)
        } catch {
            throw MailError.transport("\(error)")
        }
        var arguments = [
            "--silent", "--show-error", "--connect-timeout", "10", "--max-time", "60", "--url", url,
            "--mail-from", Self.envelopeAddress(mail.from), "--mail-rcpt", mail.to, "--upload-file", file.path,
        ]
        if startTLS { arguments.append("--ssl-reqd") }
        // Credentials go through a config on stdin, never on the command line (visible in ps).
        var config = ""
        if let username {
            let escaped = "\(username):\(password ?? "")".replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            config = "user = \"\(escaped)\"\n"
            arguments += ["--config", "-"]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = arguments
        let errors = Pipe()
        let input = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = input
        do {
            try process.run()
        } catch {
            throw MailError.transport("cannot run curl: \(error)")
        }
        input.fileHandleForWriting.write(Data(config.utf8))
        try? input.fileHandleForWriting.close()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MailError.transport("SMTP \(url): \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
