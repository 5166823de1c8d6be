import Foundation

/// The services that publish and consume events.
public enum ServiceName: String, CaseIterable, Sendable, Codable {
    case identity, billing, content, progress, notifications, analytics, webhooks

    /// The topic exchange the service publishes its public events to (archived, open to subscribers).
    public var exchange: String { "\(rawValue).events" }
    /// The topic exchange of its private messages: bound only to the consumers the catalogue
    /// names, never to the archive, unreadable by subscribers.
    public var privateExchange: String { "\(rawValue).private" }
    /// The prefix of every CloudEvents `type` the service publishes.
    public var typePrefix: String { "org.syllabus.\(rawValue)." }

    /// The producer whose exchange this is (public or private), if any.
    public static func producer(ofExchange exchange: String) -> ServiceName? {
        allCases.first { $0.exchange == exchange || $0.privateExchange == exchange }
    }
    /// The CloudEvents `source` of what the service publishes.
    public var source: String { "/syllabus/\(rawValue)" }
}

/// One versioned event type of the contract.
public struct EventType: Sendable, Hashable, CustomStringConvertible {
    /// Who may read a type: everyone who binds the producer's exchange (and the archive), or only
    /// the consumers the catalogue binds to the producer's private exchange.
    public enum Visibility: String, Sendable, Hashable {
        case `public`, `private`
    }

    public let producer: ServiceName
    /// `<subject>.<action>`, e.g. `user.registered`.
    public let name: String
    public let majorVersion: Int
    public let visibility: Visibility

    public init(producer: ServiceName, name: String, majorVersion: Int, visibility: Visibility = .public) {
        self.producer = producer
        self.name = name
        self.majorVersion = majorVersion
        self.visibility = visibility
    }

    /// The exchange the type is published to.
    public var exchange: String { visibility == .private ? producer.privateExchange : producer.exchange }

    /// `identity.user.registered.v1`: the AMQP routing key, and the name of the JSON Schema.
    public var routingKey: String { "\(producer.rawValue).\(name).v\(majorVersion)" }
    /// `org.syllabus.identity.user.registered.v1`: the CloudEvents `type`.
    public var cloudEventType: String { "org.syllabus.\(routingKey)" }
    /// The `dataschema` URI, equal to the JSON Schema's `$id`.
    public var dataSchema: String { "urn:syllabus:schema:\(routingKey)" }
    public var description: String { routingKey }

    /// The type named by a CloudEvents `type` attribute, if the catalogue knows it.
    public static func known(cloudEventType: String) -> EventType? {
        EventCatalog.all.first { $0.cloudEventType == cloudEventType }
    }

    /// The type with this routing key, if the catalogue knows it.
    public static func known(routingKey: String) -> EventType? {
        EventCatalog.all.first { $0.routingKey == routingKey }
    }
}

/// The data of an event. `subject` names the aggregate the event is about.
public protocol DomainEvent: Codable, Sendable, Equatable {
    static var eventType: EventType { get }
    var subject: String { get }
}

/// A CloudEvents 1.0 envelope in structured JSON mode, with the Syllabus extensions `sequence`
/// (the aggregate's version, zero-padded so it sorts as text), `partitionkey` and `traceparent`.
public struct CloudEvent<Payload: DomainEvent>: Codable, Sendable, Equatable {
    public var specversion: String = "1.0"
    public var id: String
    public var source: String
    public var type: String
    public var subject: String
    public var time: Date
    public var datacontenttype: String = "application/json"
    public var dataschema: String
    public var sequence: String
    public var partitionkey: String
    public var traceparent: String?
    public var data: Payload

    /// A new event about `data`'s aggregate at version `sequence`.
    public init(_ data: Payload, sequence: Int64, id: UUID = UUIDv7.make(), time: Date = Date(), traceparent: String? = nil) {
        let type = Payload.eventType
        self.id = id.lowercased
        self.source = type.producer.source
        self.type = type.cloudEventType
        self.subject = data.subject
        self.time = time
        self.dataschema = type.dataSchema
        self.sequence = EventSequence.format(sequence)
        self.partitionkey = data.subject
        self.traceparent = traceparent
        self.data = data
    }

    public var sequenceNumber: Int64 { Int64(sequence) ?? 0 }
}

/// The attributes of an envelope without its data: enough to route and deduplicate it before the
/// data's type is known.
public struct CloudEventHeader: Codable, Sendable, Equatable {
    public var specversion: String
    public var id: String
    public var source: String
    public var type: String
    public var subject: String?
    public var time: Date
    public var dataschema: String?
    public var sequence: String?
    public var partitionkey: String?
    public var traceparent: String?
}

public enum EventSequence {
    public static let width = 20

    /// `42` → `00000000000000000042`.
    public static func format(_ value: Int64) -> String {
        let digits = String(max(value, 0))
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// The JSON coding every event uses: RFC 3339 times with milliseconds, keys in a stable order.
public enum EventCoding {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return decoder
    }()

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try encoder.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder.decode(type, from: Data(bytes))
    }
}

/// RFC 3339 timestamps in UTC with millisecond precision: `2026-11-22T10:00:00.123Z`.
public enum RFC3339 {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let plainStyle = Date.ISO8601FormatStyle(timeZone: .gmt)

    public static func format(_ date: Date) -> String {
        style.format(date)
    }

    public static func parse(_ text: String) -> Date? {
        (try? style.parse(text)) ?? (try? plainStyle.parse(text))
    }
}

extension UUID {
    /// The canonical lowercase form (RFC 9562), as every event and response writes ids.
    public var lowercased: String { uuidString.lowercased() }
}

/// Time-ordered UUIDs (RFC 9562 version 7): 48 bits of Unix milliseconds, then random bits.
public enum UUIDv7 {
    public static func make(at date: Date = Date()) -> UUID {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index)))
        }
        for index in 6..<16 {
            bytes[index] = UInt8.random(in: 0...255, using: &generator)
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x70 // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80 // variant 10
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
