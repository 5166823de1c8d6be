import Foundation
import ServiceKit
import Testing

@Suite struct SecretsTests {
    /// Every secret compose/.env.example ships is one the services refuse: copying the example
    /// without replacing a secret cannot start a service.
    @Test func everySecretOfTheComposeExampleIsAKnownPlaceholder() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let text = try String(contentsOf: root.appendingPathComponent("compose/.env.example"), encoding: .utf8)
        var checked = 0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            let value = String(line[line.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            guard key.hasSuffix("PASSWORD") || key.hasSuffix("SECRET") || key.hasSuffix("_KEY"), !value.isEmpty else { continue }
            #expect(Secrets.isPlaceholder(value), "\(key)=\(value) is not refused")
            checked += 1
        }
        #expect(checked >= 20, "the example's database, broker and service secrets were all checked")
    }

    @Test func placeholdersAndShortValuesAreRefusedAndRealOnesAccepted() {
        #expect(Secrets.problem(with: "whsec_dev_change_me", minimumLength: 16) != nil)
        #expect(Secrets.problem(with: "Dev-Billing-DB-Change-Me", minimumLength: 16) != nil)
        #expect(Secrets.problem(with: "password", minimumLength: 1) != nil)
        #expect(Secrets.problem(with: "0123456789", minimumLength: 16)?.contains("shorter than 16") == true)
        #expect(Secrets.problem(with: "whsec_3f9a0c1be27d4e5f8a6b9c0d1e2f3a4b", minimumLength: 16) == nil)
    }

    @Test func passwordsAreFoundInSingleMultiHostAndListedURLs() {
        #expect(Secrets.passwords(inConnectionURL: "postgresql://svc:p%40ss@127.0.0.1:5432/syllabus") == ["p@ss"])
        #expect(
            Secrets.passwords(inConnectionURL: "postgresql://svc:pw@127.0.0.1:5732,127.0.0.1:5733/syllabus?target_session_attrs=read-write")
                == ["pw"])
        #expect(Secrets.passwords(inConnectionURL: "amqp://svc:one@h1:5672/v,amqp://svc:two@h2:5672/v") == ["one", "two"])
        #expect(Secrets.passwords(inConnectionURL: "amqp://svc@h1/v,amqp://svc:two@h2/v") == [nil, "two"])
        #expect(Secrets.passwords(inConnectionURL: "postgresql:///syllabus?host=/tmp") == [nil])
    }
}

/// A database URL must say whether it uses TLS: libpq's default (`prefer`) would fall back to a
/// plain connection without a word, and verifies nothing when it does not.
@Suite struct ConnectionSecurityTests {
    @Test func sslModeIsReadFromURIsAndKeyValueStrings() {
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "postgresql://u:p@h/db?sslmode=verify-full&sslrootcert=/ca.pem") == "verify-full")
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "postgresql://u:p@a:1,b:2/db?target_session_attrs=read-write&sslmode=disable") == "disable")
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "postgresql://u:p@h/db") == nil)
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "postgresql://u:p@h/db?application_name=sslmode") == nil)
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "host=h dbname=db sslmode=require") == "require")
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "host=h dbname=db sslmode = 'verify-ca'") == "verify-ca")
        #expect(ConnectionSecurity.sslMode(inDatabaseURL: "host=h dbname=db") == nil)
    }

    @Test func onlyAStatedModeIsAccepted() {
        let none: [String: String] = [:]
        for mode in ["verify-full", "verify-ca", "require", "disable"] {
            #expect(ConnectionSecurity.problem(withDatabaseURL: "postgresql://u:p@h/db?sslmode=\(mode)", environment: none) == nil)
        }
        for mode in ["prefer", "allow"] {
            #expect(ConnectionSecurity.problem(withDatabaseURL: "postgresql://u:p@h/db?sslmode=\(mode)", environment: none)?.contains("falls back") == true)
        }
        #expect(ConnectionSecurity.problem(withDatabaseURL: "postgresql://u:p@h/db", environment: none)?.contains("sslmode=verify-full") == true)
        // libpq reads PGSSLMODE when the URL names no mode.
        #expect(ConnectionSecurity.problem(withDatabaseURL: "postgresql://u:p@h/db", environment: ["PGSSLMODE": "verify-full"]) == nil)
        #expect(ConnectionSecurity.problem(withDatabaseURL: "postgresql://u:p@h/db", environment: ["PGSSLMODE": "prefer"]) != nil)
    }
}
