import Foundation
import Testing
import TestSupport

@testable import Notifications

/// A one-connection SMTP server (Python's standard library only) that records the envelope and
/// the message it receives, and never offers STARTTLS.
final class SMTPSink: @unchecked Sendable {
    static let script = #"""
        import socket, sys
        port, out = int(sys.argv[1]), sys.argv[2]
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        print("ready", flush=True)
        conn, _ = server.accept()
        stream = conn.makefile("rwb")
        def reply(text):
            stream.write((text + "\r\n").encode()); stream.flush()
        reply("220 sink ESMTP")
        envelope, message, in_data = [], [], False
        while True:
            raw = stream.readline()
            if not raw:
                break
            line = raw.decode().rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False; reply("250 queued")
                else:
                    message.append(line[1:] if line.startswith(".") else line)
                continue
            command = line.upper()
            if command.startswith("EHLO"):
                stream.write(b"250-sink\r\n250 SIZE 10000000\r\n"); stream.flush()
            elif command.startswith(("MAIL FROM", "RCPT TO")):
                envelope.append(line); reply("250 OK")
            elif command == "DATA":
                in_data = True; reply("354 end with .")
            elif command == "QUIT":
                reply("221 bye"); break
            else:
                reply("502 not here")
        open(out, "w").write("\n".join(envelope) + "\n\n" + "\n".join(message))
        """#

    let port: Int
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString).txt")
    let process = Process()
    let stdout = Pipe()

    init(port: Int) throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.script, String(port), output.path]
        process.standardOutput = stdout
        try process.run()
        // The server says when it listens.
        let ready = stdout.fileHandleForReading.availableData
        guard String(decoding: ready, as: UTF8.self).contains("ready") else { throw MailError.transport("sink did not start") }
    }

    /// What the server received, once the client has quit.
    func received() -> String {
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(at: output) }
        return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

@Suite(.serialized) struct SMTPTransportTests {
    func mail() -> OutgoingMail {
        OutgoingMail(
            id: UUID(), from: "Syllabus <hello@syllabus.test>", to: "ada@example.com", toName: "Ada", date: Date(),
            content: RenderedMail(subject: "Hello", text: "Line one\n.starts with a dot", html: "<p>hi</p>"),
            headers: [("List-Unsubscribe", "<http://x/unsubscribe>")])
    }

    @Test func aRelayReceivesTheEnvelopeAndTheWholeMessage() async throws {
        let sink = try await blocking { try SMTPSink(port: 9597) }
        let transport = try SMTPMailTransport(url: "smtp://127.0.0.1:9597", startTLS: false, username: nil, password: nil)
        let mail = mail()
        let received = try await blocking {
            try transport.send(mail)
            return sink.received()
        }
        #expect(received.contains("MAIL FROM:<hello@syllabus.test>"))
        #expect(received.contains("RCPT TO:<ada@example.com>"))
        #expect(received.contains("Subject: Hello"))
        #expect(received.contains("Message-ID: <\(mail.id.uuidString.lowercased())@syllabus.mail>"))
        #expect(received.contains("List-Unsubscribe: <http://x/unsubscribe>"))
        #expect(received.contains("\n.starts with a dot"), "dot-stuffing undone: the line arrives as written")
    }

    @Test func startTLSIsRequiredNeverSkipped() async throws {
        let sink = try await blocking { try SMTPSink(port: 9598) }
        let transport = try SMTPMailTransport(url: "smtp://127.0.0.1:9598", startTLS: true, username: nil, password: nil)
        let mail = mail()
        let refused = try await blocking {
            defer { sink.stop() }
            do {
                try transport.send(mail)
                return false
            } catch is MailError {
                return true
            }
        }
        #expect(refused)
    }

    @Test func anUnreachableRelayIsATransportFailure() throws {
        let transport = try SMTPMailTransport(url: "smtp://127.0.0.1:9", startTLS: false, username: nil, password: nil)
        #expect(throws: MailError.self) { try transport.send(mail()) }
    }

    @Test func credentialsAreRefusedInTheURL() {
        #expect(throws: MailError.self) { try SMTPMailTransport(url: "smtp://user:secret@relay:587", startTLS: true, username: nil, password: nil) }
        #expect(throws: MailError.self) { try SMTPMailTransport(url: "http://relay", startTLS: false, username: nil, password: nil) }
    }
}
