import Contracts
import Foundation

/// A secret a service reads from its configuration. A required one must be set; an optional one
/// (an integration that answers 503 until configured) may be empty. Either, when set, must be at
/// least `minimumLength` characters and not a known placeholder.
public struct SecretRule: Sendable {
    public let key: String
    public let required: Bool
    public let minimumLength: Int

    /// - Parameter key: the configuration key (`stripe.webhook.secret` is read from
    ///   `BILLING_STRIPE_WEBHOOK_SECRET` or `STRIPE_WEBHOOK_SECRET`).
    public static func required(_ key: String, minimumLength: Int = 16) -> SecretRule {
        SecretRule(key: key, required: true, minimumLength: minimumLength)
    }

    public static func optional(_ key: String, minimumLength: Int = 1) -> SecretRule {
        SecretRule(key: key, required: false, minimumLength: minimumLength)
    }
}

public enum Secrets {
    /// Values shipped as examples (compose/.env.example and the documentation): a service refuses
    /// to start with any of them, since everyone who read the example knows them.
    public static let placeholders: Set<String> = [
        "dev-admin-db-change-me",
        "dev-identity-db-change-me", "dev-identity-owner-db-change-me",
        "dev-billing-db-change-me", "dev-billing-owner-db-change-me",
        "dev-content-db-change-me", "dev-content-owner-db-change-me",
        "dev-progress-db-change-me", "dev-progress-owner-db-change-me",
        "dev-notifications-db-change-me", "dev-notifications-owner-db-change-me",
        "dev-analytics-db-change-me", "dev-analytics-owner-db-change-me",
        "dev-webhooks-db-change-me", "dev-webhooks-owner-db-change-me",
        "dev-admin-amqp-change-me", "dev-subscriber-amqp-change-me",
        "dev-identity-amqp-change-me", "dev-billing-amqp-change-me", "dev-content-amqp-change-me",
        "dev-progress-amqp-change-me", "dev-notifications-amqp-change-me", "dev-analytics-amqp-change-me",
        "dev-webhooks-amqp-change-me",
        "dev-unsubscribe-secret-change-me", "whsec_dev_change_me",
        "dev-integrations-key-change-me", "dev-mux-webhook-secret-change-me",
        // What people type when a value is asked for.
        "guest", "password", "secret", "changeme", "change-me", "change_me", "admin", "test", "example",
    ]

    /// Words that mark a value as one to be replaced, wherever they appear in it.
    static let placeholderMarks = ["change-me", "change_me", "changeme", "replace-me", "replace_me", "replaceme"]

    public static func isPlaceholder(_ value: String) -> Bool {
        let lowered = value.lowercased()
        return placeholders.contains(lowered) || placeholderMarks.contains { lowered.contains($0) }
    }

    /// The password of each URL in a connection string: one URL (`scheme://user:password@host/…`),
    /// a libpq multi-host URL (`postgresql://user:password@a:5432,b:5432/db`, one password), or a
    /// comma-separated list of URLs, one per broker node. nil for a URL without a password.
    public static func passwords(inConnectionURL text: String) -> [String?] {
        text.split(separator: ",").compactMap { part -> String?? in
            guard let schemeEnd = part.range(of: "://") else { return nil } // a further host of a multi-host URL
            let rest = part[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            guard let at = authority.lastIndex(of: "@") else { return .some(nil) }
            let userInfo = authority[..<at]
            guard let colon = userInfo.firstIndex(of: ":") else { return .some(nil) }
            let encoded = String(userInfo[userInfo.index(after: colon)...])
            return .some(encoded.removingPercentEncoding ?? encoded)
        }
    }

    /// Why `value` cannot be used as a secret, or nil when it can.
    public static func problem(with value: String, minimumLength: Int) -> String? {
        if isPlaceholder(value) { return "is a placeholder from the examples; set a secret of your own" }
        if value.count < minimumLength { return "is shorter than \(minimumLength) characters" }
        return nil
    }
}

/// A configuration the service cannot run with.
public struct InsecureConfiguration: Error, CustomStringConvertible {
    public let variable: String
    public let reason: String

    public var description: String { "refusing to start: \(variable) \(reason)" }
}

extension ServiceConfiguration {
    /// The environment variable a key is read from, as the operator sees it.
    public func variableName(_ key: String) -> String {
        "\(service.rawValue.uppercased())_\(key.uppercased().replacingOccurrences(of: ".", with: "_"))"
    }

    /// Checks the passwords in the service's connection URLs and the given secrets; throws naming
    /// the first variable that is missing, too short or a placeholder.
    public func checkSecrets(_ rules: [SecretRule]) throws {
        let urls = [("database.url", databaseURL), ("migration.database.url", migrationDatabaseURL), ("amqp.url", amqpURL)]
        for (key, url) in urls {
            let passwords = Secrets.passwords(inConnectionURL: url)
            guard !passwords.isEmpty, passwords.allSatisfy({ $0 != nil }) else {
                throw InsecureConfiguration(variable: variableName(key), reason: "has no password")
            }
            for case let password? in passwords {
                if let problem = Secrets.problem(with: password, minimumLength: 12) {
                    throw InsecureConfiguration(variable: variableName(key), reason: "holds a password that \(problem)")
                }
            }
        }
        for rule in rules {
            guard let value = nonEmpty(rule.key) else {
                if rule.required { throw InsecureConfiguration(variable: variableName(rule.key), reason: "is required and not set") }
                continue
            }
            if let problem = Secrets.problem(with: value, minimumLength: rule.minimumLength) {
                throw InsecureConfiguration(variable: variableName(rule.key), reason: problem)
            }
        }
    }

    /// The configuration of a service's executable: read from the environment and checked, or the
    /// process exits with status 78 (EX_CONFIG) and one line on standard error naming the problem.
    public static func load(service: ServiceName, secrets: [SecretRule] = []) -> ServiceConfiguration {
        do {
            let configuration = try ServiceConfiguration(service: service)
            try configuration.checkSecrets(secrets)
            try configuration.checkConnections()
            return configuration
        } catch {
            FileHandle.standardError.write(Data("\(service.rawValue): \(error)\n".utf8))
            exit(78)
        }
    }
}
