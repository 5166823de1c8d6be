import Foundation

/// How a service reaches Postgres must be stated, never left to libpq's default (`prefer`, which
/// quietly falls back to a plain connection, and verifies nothing when it does not): a database
/// URL says `sslmode=verify-full` (with `sslrootcert`), `verify-ca` or `require` for TLS, or
/// `sslmode=disable` for a plain connection on a network the operator trusts. RabbitMQ's URL
/// states it by its scheme: `amqps` is TLS with the broker verified, `amqp` is plain.
public enum ConnectionSecurity {
    /// The modes a service accepts; `allow` and `prefer` decide by what the server offers.
    public static let statedModes: Set<String> = ["verify-full", "verify-ca", "require", "disable"]

    /// The `sslmode` of a libpq URI (`postgresql://…?sslmode=…`) or key/value string
    /// (`host=… sslmode=…`), or nil when it does not name one. Named twice, the last counts, as
    /// for libpq.
    public static func sslMode(inDatabaseURL url: String) -> String? {
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") {
            guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
            return query.split(separator: "&").compactMap { pair -> String? in
                let parts = pair.split(separator: "=", maxSplits: 1)
                return parts.count == 2 && parts[0] == "sslmode" ? String(parts[1]).removingPercentEncoding : nil
            }.last
        }
        return url.matches(of: /(?:^|\s)sslmode\s*=\s*'?([A-Za-z-]+)/).last.map { String($0.1) }
    }

    /// Why `url` may not be used, or nil when it states how it connects. `PGSSLMODE` in the
    /// environment counts as stating it, as libpq reads it.
    public static func problem(withDatabaseURL url: String, environment: [String: String]) -> String? {
        guard let mode = sslMode(inDatabaseURL: url) ?? environment["PGSSLMODE"] else {
            return "does not say whether to use TLS: add sslmode=verify-full (and sslrootcert) for TLS, or sslmode=disable for a plain connection"
        }
        guard statedModes.contains(mode) else {
            return "has sslmode=\(mode), which falls back to a plain connection: use verify-full (and sslrootcert) for TLS, or disable for a plain connection"
        }
        return nil
    }
}

extension ServiceConfiguration {
    /// Checks that each database URL states whether it uses TLS (see `ConnectionSecurity`).
    public func checkConnections(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        for (key, url) in [("database.url", databaseURL), ("migration.database.url", migrationDatabaseURL)] {
            if let problem = ConnectionSecurity.problem(withDatabaseURL: url, environment: environment) {
                throw InsecureConfiguration(variable: variableName(key), reason: problem)
            }
        }
    }
}
