import Contracts
import Foundation
import ServiceKit

/// What apps may send to `POST /v1/analytics/events`, checked strictly: known names, the
/// properties each needs, bounded sizes, and times neither from the future nor long past.
public enum ClientEvents {
    public enum Property: Sendable {
        case text
        case choice(Set<String>)
    }

    /// The events apps send, with the properties each requires.
    public static let rules: [ProductEvent: [String: Property]] = [
        .signupStarted: [:],
        .paywallViewed: ["placement": .text],
        .subscriptionPlanSelected: [
            "tier": .choice(Set(Tier.known.filter { $0 != .free }.map(\.rawValue))), "interval": .choice(Set(BillingInterval.known.map(\.rawValue))),
        ],
    ]

    public static let maximumEvents = 50
    public static let maximumProperties = 20
    public static let maximumTextLength = 200
    /// Clocks drift: a little ahead is tolerated, more is refused.
    public static let futureTolerance: TimeInterval = 300
    public static let maximumAge: TimeInterval = 7 * 24 * 3600

    public struct Batch: Decodable, Sendable {
        public var sessionId: String?
        public var events: [Item]?
    }

    public struct Item: Decodable, Sendable {
        /// Optional, for retries: the same id from the same session is recorded once.
        public var id: String?
        public var event: String?
        public var timestamp: String?
        public var properties: [String: JSONValue]?
    }

    public struct Accepted: Sendable {
        public var id: String
        public var event: ProductEvent
        public var time: Date
        public var properties: [String: JSONValue]
    }

    static func validSession(_ text: String) -> Bool {
        (16...128).contains(text.count) && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "-" || $0 == "_" }
    }

    /// The session and the events, or a 422 naming every problem.
    public static func validate(_ batch: Batch, now: Date) throws -> (session: String, events: [Accepted]) {
        var errors: [FieldError] = []
        func fail(_ field: String, _ code: String, _ message: String) { errors.append(FieldError(field: field, code: code, message: message)) }
        let session = batch.sessionId ?? ""
        if !validSession(session) { fail("sessionId", "invalid_session", "16 to 128 letters, digits, - or _.") }
        let items = batch.events ?? []
        if items.isEmpty { fail("events", "required", "Send at least one event.") }
        if items.count > maximumEvents { fail("events", "too_many", "At most \(maximumEvents) events per request.") }
        var accepted: [Accepted] = []
        for (index, item) in items.prefix(maximumEvents).enumerated() {
            let path = "events[\(index)]"
            let before = errors.count
            guard let name = item.event, let event = ProductEvent(rawValue: name) else {
                fail("\(path).event", "unknown_event", "One of: \(rules.keys.map(\.rawValue).sorted().joined(separator: ", ")).")
                continue
            }
            guard let required = rules[event] else {
                fail("\(path).event", "server_event", "\(name) is recorded from the server's own events, not sent by apps.")
                continue
            }
            var time = now
            if let text = item.timestamp {
                if let parsed = RFC3339.parse(text) {
                    if parsed.timeIntervalSince(now) > futureTolerance { fail("\(path).timestamp", "in_the_future", "The time is ahead of the server's clock.") }
                    if now.timeIntervalSince(parsed) > maximumAge { fail("\(path).timestamp", "too_old", "Events older than 7 days are not taken.") }
                    time = parsed
                } else {
                    fail("\(path).timestamp", "invalid_timestamp", "An RFC 3339 time, such as 2026-11-22T10:00:00Z.")
                }
            } else {
                fail("\(path).timestamp", "required", "When it happened (RFC 3339).")
            }
            let id = item.id ?? UUIDv7.make().lowercased
            if item.id != nil, UUID(uuidString: id) == nil { fail("\(path).id", "invalid_id", "A UUID.") }
            let properties = item.properties ?? [:]
            if properties.count > maximumProperties { fail("\(path).properties", "too_many", "At most \(maximumProperties) properties.") }
            for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
                let field = "\(path).properties.\(key)"
                guard (1...40).contains(key.count), key.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }) else {
                    fail(field, "invalid_name", "Property names are 1 to 40 letters, digits or _.")
                    continue
                }
                switch value {
                case .string(let text) where text.count > maximumTextLength:
                    fail(field, "too_long", "At most \(maximumTextLength) characters.")
                case .string, .number, .bool: break
                default: fail(field, "invalid_value", "A string, number or boolean.")
                }
            }
            for (key, rule) in required.sorted(by: { $0.key < $1.key }) {
                let field = "\(path).properties.\(key)"
                guard let value = properties[key]?.string, !value.isEmpty else {
                    fail(field, "required", "\(name) needs \(key).")
                    continue
                }
                if case .choice(let choices) = rule, !choices.contains(value) {
                    fail(field, "invalid_choice", "One of: \(choices.sorted().joined(separator: ", ")).")
                }
            }
            if errors.count == before { accepted.append(Accepted(id: id.lowercased(), event: event, time: time, properties: properties)) }
        }
        if !errors.isEmpty { throw DomainError.validation(errors) }
        return (session, accepted)
    }
}
