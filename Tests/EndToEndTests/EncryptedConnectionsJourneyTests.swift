import AsyncHTTPClient
import Database
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MessageBus
import NIOHTTP1
import Testing
import TestSupport

/// The test stack speaks TLS only, as production should: every service reaches Postgres with
/// `sslmode=verify-full` and RabbitMQ over AMQPS with the broker verified, against the stack's
/// local CA. What does not verify, or does not encrypt, is refused.
extension EndToEndTests {
    struct EncryptedConnectionsJourneyTests {}
}

private let serviceNames = ["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"]

extension EndToEndTests.EncryptedConnectionsJourneyTests {
    @Test func everyServiceConnectsOverVerifiedTLSAndTheJourneyWorks() async throws {
        let processes = try ServiceProcesses(portBase: 10_880)
        for service in serviceNames {
            let environment = try processes.environment(of: service)
            let prefix = service.uppercased()
            for key in ["\(prefix)_DATABASE_URL", "\(prefix)_MIGRATION_DATABASE_URL"] {
                let url = try #require(environment[key])
                #expect(url.contains("sslmode=verify-full") && url.contains("sslrootcert="), "\(key) verifies the server")
            }
            #expect(try #require(environment["\(prefix)_AMQP_URL"]).hasPrefix("amqps://"), "\(service) speaks AMQPS")
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start()
        try await runJourney {
            try await processes.waitUntilReady(api)
            // Identity's event crosses the broker to notifications: the bus works over TLS.
            let email = "tls.\(UUID().uuidString.prefix(8).lowercased())@example.com"
            #expect(try await processes.register(email, name: "Tls", api: api).status == 201)
            try await processes.awaitWelcome(email)

            // Postgres: each service's sessions over TCP are TLS sessions (pg_hba allows no other).
            let admin = DatabasePool(url: try TestEnvironment.value("ADMIN_DATABASE_URL"), size: 1, name: "tls-test", logger: TestEnvironment.logger)
            defer { admin.shutdown() }
            let sessions = try await admin.query(
                """
                SELECT a.usename AS role, s.ssl, coalesce(s.version, '') AS version
                  FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                 WHERE a.client_addr IS NOT NULL AND a.usename = ANY(\(array: serviceNames))
                """)
            let roles = Set(try sessions.map { try $0.decode("role", as: String.self) })
            #expect(roles == Set(serviceNames), "every service has a session: \(roles.sorted())")
            for session in sessions {
                let role = try session.decode("role", as: String.self)
                #expect(try session.decode("ssl", as: Bool.self), "\(role) over TLS")
                #expect(try session.decode("version", as: String.self).hasPrefix("TLSv1."))
            }

            // RabbitMQ: every connection of a service's user is a TLS connection.
            try await eventually(timeout: .seconds(15), "the broker lists each service's connections") {
                let connections = try await brokerConnections()
                let users = Set(connections.compactMap { $0["user"] as? String }.filter(serviceNames.contains))
                return users == Set(serviceNames)
            }
            let connections = try await brokerConnections().filter { serviceNames.contains($0["user"] as? String ?? "") }
            for connection in connections {
                #expect(connection["ssl"] as? Bool == true, "\(connection["user"] ?? "?") over TLS")
                #expect((connection["ssl_protocol"] as? String)?.hasPrefix("tlsv1.") == true)
            }
        } finish: {
            processes.stop()
            try? await http.shutdown()
        }
    }

    /// What does not verify the server, or does not encrypt, is refused by the client or the server.
    @Test func unverifiedOrPlainConnectionsAreRefused() async throws {
        let databaseURL = try TestEnvironment.value("ADMIN_DATABASE_URL")
        let amqpURL = try TestEnvironment.value("ADMIN_AMQP_URL")
        let caFile = try TestEnvironment.value("TLS_CA_FILE")
        #expect(databaseURL.contains("sslrootcert=\(caFile)") && amqpURL.contains("cacertfile=\(caFile)"))
        let otherAuthorities = AMQPTLS.systemCAFile  // the system's CAs, which never signed the stack's certificate

        func databaseRefuses(_ url: String) async -> String? {
            let pool = DatabasePool(url: url, size: 1, name: "tls-refused", logger: TestEnvironment.logger)
            defer { pool.shutdown() }
            do {
                _ = try await pool.query("SELECT 1 AS one")
                return nil
            } catch {
                return "\(error)"
            }
        }
        // The server refuses a plain session; the client refuses a server its CA did not sign.
        let plain = await databaseRefuses(databaseURL.replacing(/sslmode=verify-full/, with: "sslmode=disable"))
        #expect(plain?.contains("no encryption") == true, "\(plain ?? "accepted")")
        let unverified = await databaseRefuses(databaseURL.replacingOccurrences(of: "sslrootcert=\(caFile)", with: "sslrootcert=\(otherAuthorities)"))
        #expect(unverified?.contains("certificate verify failed") == true, "\(unverified ?? "accepted")")
        // The URL as given is accepted: the refusals above are the changes' doing.
        #expect(await databaseRefuses(databaseURL) == nil)

        func brokerRefuses(_ url: String) async -> String? {
            do {
                let admin = try AMQPAdmin(url: url)
                _ = try await admin.messageCount(queue: "identity")
                return nil
            } catch {
                return "\(error)"
            }
        }
        let untrusted = await brokerRefuses(amqpURL.replacingOccurrences(of: "cacertfile=\(caFile)", with: "cacertfile=\(otherAuthorities)"))
        #expect(untrusted?.contains("verification failed") == true, "\(untrusted ?? "accepted")")
        let plainAMQP = await brokerRefuses(amqpURL.replacing(/^amqps:/, with: "amqp:").replacing(/\?.*$/, with: ""))
        #expect(plainAMQP != nil, "a plain AMQP connection to the TLS listener")
        #expect(await brokerRefuses(amqpURL) == nil)
    }

    /// A service does not start on a database URL that leaves TLS to libpq's default.
    @Test func aDatabaseURLThatDoesNotStateTLSStopsTheService() async throws {
        let processes = try ServiceProcesses(portBase: 10_890)
        let binary = try TestEnvironment.binaryDirectory().appendingPathComponent("progress").path
        var environment = try processes.environment(of: "progress")
        let url = try #require(environment["PROGRESS_DATABASE_URL"])
        for stated in [url.replacing(/\?.*$/, with: ""), url.replacing(/sslmode=verify-full/, with: "sslmode=prefer")] {
            environment["PROGRESS_DATABASE_URL"] = stated
            let settings = environment
            let result = try await blocking { try run(binary, [], environment: settings, timeout: 30) }
            #expect(result.status == 78, "\(result.output)")
            #expect(result.output.contains("PROGRESS_DATABASE_URL") && result.output.contains("sslmode"), "\(result.output)")
        }
    }
}

/// The broker's connections, as its management API lists them.
private func brokerConnections() async throws -> [[String: Any]] {
    let admin = try #require(URLComponents(string: try TestEnvironment.value("ADMIN_AMQP_URL")))
    let url = try #require(URL(string: "\(try TestEnvironment.value("RABBITMQ_MANAGEMENT_URL"))/api/connections?columns=user,ssl,ssl_protocol"))
    var request = URLRequest(url: url)
    let credentials = Data("\(admin.user ?? ""):\(admin.password ?? "")".utf8).base64EncodedString()
    request.setValue("Basic \(credentials)", forHTTPHeaderField: "Authorization")
    let (body, response) = try await URLSession.shared.data(for: request)
    guard (response as? HTTPURLResponse)?.statusCode == 200 else { return [] }
    return try JSONSerialization.jsonObject(with: body) as? [[String: Any]] ?? []
}
