import Contracts
import Database
import Foundation
import Logging
import Metrics
import NIOCore
import ServiceKit

/// Delivers what is due, on every replica at once: each claims due deliveries with `SKIP
/// LOCKED` and leases them while it tries; per endpoint and aggregate, a delivery waits while
/// an earlier one is pending, so each endpoint gets an aggregate's events in order. Retries
/// follow the schedule with jitter; one that exhausts it is FAILED and the endpoint moves on.
/// An endpoint that has failed every attempt for longer than the threshold is disabled, and
/// `webhooks.endpoint.disabled.v1` tells the admins.
public struct Dispatcher: Sendable {
    let database: DatabasePool
    let client: WebhookClient
    let settings: WebhooksSettings
    let logger: Logger
    let batchSize: Int
    /// How long a claimed delivery stays with its claimer before another replica may try it.
    let lease: Int

    public init(database: DatabasePool, client: WebhookClient, settings: WebhooksSettings, logger: Logger, batchSize: Int = 16) {
        self.database = database
        self.client = client
        self.settings = settings
        self.logger = logger
        self.batchSize = batchSize
        self.lease = settings.timeout * 3 + 30
    }

    struct Claimed: Sendable {
        var delivery: Int64
        var endpoint: UUID
        var url: String
        var eventID: String
        var body: String
        var attempt: Int
        var secrets: [String]
    }

    /// One round: claims, delivers, records. Answers when to look again (nil: when woken or idle).
    public func step(now: Date = Date()) async throws -> Duration? {
        let claimed = try await claim()
        if claimed.isEmpty {
            let next = try await database.query(
                """
                SELECT extract(epoch FROM min(d.next_attempt_at) - now())::float8 AS wait FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
                WHERE d.status = 'PENDING' AND e.enabled
                """
            ).first?.decode("wait", as: Double?.self)
            return next.map { .milliseconds(Int64(max(0, $0) * 1000) + 10) }
        }
        await withTaskGroup(of: Void.self) { group in
            for item in claimed {
                group.addTask { await deliver(item) }
            }
        }
        return .zero
    }

    func claim() async throws -> [Claimed] {
        try await database.transaction { connection in
            try connection.query(
                """
                WITH due AS (
                    SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id AND e.enabled
                    WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
                      AND NOT EXISTS (
                          SELECT 1 FROM deliveries o
                          WHERE o.endpoint_id = d.endpoint_id AND o.aggregate = d.aggregate AND o.status = 'PENDING' AND o.id < d.id)
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT \(batchSize)
                    FOR UPDATE OF d SKIP LOCKED
                )
                UPDATE deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + \(lease) * interval '1 second'
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.endpoint_id, d.event_id, d.attempts,
                    (SELECT url FROM endpoints WHERE id = d.endpoint_id) AS url,
                    (SELECT body FROM events WHERE id = d.event_id) AS body,
                    (SELECT json_agg(secret ORDER BY created_at DESC)::text FROM endpoint_secrets s
                      WHERE s.endpoint_id = d.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > now())) AS secrets
                """
            ).map { row in
                Claimed(
                    delivery: try row.decode("id"), endpoint: try row.decode("endpoint_id"), url: try row.decode("url"),
                    eventID: try row.decode("event_id"), body: try row.decode("body"), attempt: try row.decode("attempts"),
                    secrets: try JSONDecoder().decode([String].self, from: Data((try row.decode("secrets", as: String?.self) ?? "[]").utf8)))
            }
        }
    }

    enum Outcome {
        case delivered(WebhookClient.Answer)
        case refused(WebhookClient.Answer)
        case failed(String)
    }

    func deliver(_ item: Claimed) async {
        let started = ContinuousClock.now
        let outcome: Outcome
        do {
            let destination = try settings.policy.destination(item.url)
            // Resolved and checked again at each attempt; the connection goes to a checked address.
            let addresses = try settings.policy.addresses(of: destination)
            let body = Array(item.body.utf8)
            let headers = StandardWebhooks.headers(
                id: item.eventID, timestamp: Int64(Date().timeIntervalSince1970), body: body, secrets: item.secrets)
            let answer = try await client.post(
                to: destination, address: addresses[0], headers: headers, body: body, timeout: .seconds(Int64(settings.timeout)))
            outcome = (200..<300).contains(answer.status) ? .delivered(answer) : .refused(answer)
        } catch let refusal as DestinationPolicy.Refusal {
            outcome = .failed("refused: \(refusal)")
        } catch {
            outcome = .failed("\(error)")
        }
        let milliseconds = (ContinuousClock.now - started).milliseconds
        do {
            try await record(item, outcome, milliseconds: milliseconds)
        } catch {
            // The lease runs out and the delivery is tried again: at least once.
            logger.warning("could not record a webhook attempt", metadata: ["delivery": "\(item.delivery)", "error": "\(error)"])
        }
    }

    func record(_ item: Claimed, _ outcome: Outcome, milliseconds: Int) async throws {
        let endpoint = item.endpoint.lowercased
        var status: Int?
        var excerpt: String?
        var error: String?
        switch outcome {
        case .delivered(let answer), .refused(let answer):
            status = answer.status
            excerpt = answer.excerpt.isEmpty ? nil : answer.excerpt
        case .failed(let reason):
            error = String(reason.prefix(500))
        }
        let succeeded: Bool = if case .delivered = outcome { true } else { false }
        let schedule = settings.retrySchedule
        let exhausted = item.attempt > schedule.count
        let delay: Double = exhausted || succeeded ? 0 : Double(schedule[item.attempt - 1]) * Double.random(in: 0.9...1.1)
        let lastError = error ?? "HTTP \(status ?? 0)"
        let (answered, shown, failure) = (status, excerpt, error)
        let disabled = try await database.transaction { connection -> Bool in
            try connection.execute(
                """
                INSERT INTO attempts (delivery_id, status_code, duration_ms, response_excerpt, error)
                VALUES (\(item.delivery), \(answered), \(milliseconds), \(shown), \(failure))
                """)
            if succeeded {
                try connection.execute("UPDATE deliveries SET status = 'SUCCEEDED', finished_at = now() WHERE id = \(item.delivery)")
                try connection.execute("UPDATE endpoints SET failing_since = NULL WHERE id = \(item.endpoint) AND failing_since IS NOT NULL")
                return false
            }
            if exhausted {
                try connection.execute("UPDATE deliveries SET status = 'FAILED', finished_at = now() WHERE id = \(item.delivery)")
            } else {
                try connection.execute(
                    "UPDATE deliveries SET next_attempt_at = now() + \(delay) * interval '1 second' WHERE id = \(item.delivery)")
            }
            guard
                let row = try connection.query(
                    """
                    UPDATE endpoints SET failing_since = coalesce(failing_since, now())
                    WHERE id = \(item.endpoint) RETURNING enabled, failing_since, url, description, disablings
                    """
                ).first
            else { return false }
            let since: Date = try row.decode("failing_since")
            guard try row.decode("enabled", as: Bool.self), since <= Date().addingTimeInterval(-Double(settings.disableAfter)) else { return false }
            let disablings: Int = try row.decode("disablings") + 1
            try connection.execute(
                """
                UPDATE endpoints SET enabled = false, disabled_reason = 'failing', disabled_at = now(), disablings = \(disablings), updated_at = now()
                WHERE id = \(item.endpoint)
                """)
            let origin = (try? settings.policy.destination(try row.decode("url", as: String.self)).origin) ?? "unknown"
            try Outbox.enqueue(
                CloudEvent(
                    WebhooksEndpointDisabledV1(
                        endpointId: endpoint, origin: origin, description: try row.decode("description"), failingSince: since,
                        disabledAt: Date(), lastError: String(lastError.prefix(500))),
                    sequence: Int64(disablings)),
                on: connection)
            return true
        }
        let result = succeeded ? "succeeded" : exhausted ? "failed" : "retried"
        Counter(label: "webhook_deliveries_total", dimensions: [("endpoint", endpoint), ("result", result)]).increment()
        if disabled {
            Counter(label: "webhook_endpoints_disabled_total", dimensions: [("endpoint", endpoint)]).increment()
            logger.warning("webhook endpoint disabled after failing past the threshold", metadata: ["endpoint": "\(endpoint)"])
        } else if !succeeded {
            logger.info(
                "webhook attempt failed", metadata: ["endpoint": "\(endpoint)", "event_id": "\(item.eventID)", "attempt": "\(item.attempt)", "outcome": "\(lastError)"])
        }
    }

    /// The age of the oldest delivery waiting for an enabled endpoint, as a gauge.
    public func measure() async throws {
        let age = try await database.query(
            """
            SELECT coalesce(extract(epoch FROM now() - min(d.created_at)), 0)::float8 AS age, count(*) AS n
            FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id WHERE d.status = 'PENDING' AND e.enabled
            """
        ).first
        Gauge(label: "webhook_oldest_pending_age_seconds").record(try age?.decode("age", as: Double.self) ?? 0)
        Gauge(label: "webhook_deliveries_pending").record(try age?.decode("n", as: Int.self) ?? 0)
    }
}
