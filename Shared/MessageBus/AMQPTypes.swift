import Foundation

/// A value in an AMQP field table (message headers, queue arguments).
public enum AMQPFieldValue: Sendable, Equatable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case timestamp(UInt64)
    case table(AMQPTable)
    case array([AMQPFieldValue])
    case void

    public var stringValue: String? {
        switch self {
        case .string(let value): value
        case .bytes(let value): String(decoding: value, as: UTF8.self)
        default: nil
        }
    }

    public var intValue: Int64? {
        switch self {
        case .int(let value): value
        case .timestamp(let value): Int64(value)
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): value
        case .bytes(let value): "<\(value.count) bytes>"
        case .timestamp(let value): "@\(value)"
        case .table(let value): "\(value)"
        case .array(let value): "\(value)"
        case .void: "void"
        }
    }
}

public typealias AMQPTable = [String: AMQPFieldValue]

/// The basic properties of a message.
public struct AMQPProperties: Sendable, Equatable {
    public var contentType: String?
    public var messageID: String?
    public var type: String?
    public var appID: String?
    public var correlationID: String?
    public var timestamp: UInt64?
    public var persistent: Bool
    public var headers: AMQPTable

    public init(
        contentType: String? = nil, messageID: String? = nil, type: String? = nil, appID: String? = nil,
        correlationID: String? = nil, timestamp: UInt64? = nil, persistent: Bool = true, headers: AMQPTable = [:]
    ) {
        self.contentType = contentType
        self.messageID = messageID
        self.type = type
        self.appID = appID
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.persistent = persistent
        self.headers = headers
    }
}

/// A message to publish. With `mandatory`, a message no queue would receive comes back as
/// `PublishOutcome.returned` instead of vanishing.
public struct OutgoingMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: AMQPProperties
    public var mandatory: Bool

    public init(exchange: String, routingKey: String, body: [UInt8], properties: AMQPProperties, mandatory: Bool = true) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}

/// What the broker said about one published message.
public enum PublishOutcome: Sendable, Equatable {
    /// Acknowledged: the broker has taken responsibility for it.
    case confirmed
    /// Negatively acknowledged: the broker could not take it; publish again.
    case nacked
    /// Returned as unroutable (no queue bound for its key).
    case returned(code: Int, text: String)
    /// Not sent: an earlier message of the batch with the same ordering key was refused, and this
    /// one may not overtake it.
    case held
}

/// A delivered message. Its `deliveryTag` is only meaningful on the connection it came from,
/// which `connectionGeneration` identifies; an ack for an older generation is dropped.
public struct IncomingMessage: Sendable {
    public let deliveryTag: UInt64
    public let connectionGeneration: Int
    public let exchange: String
    public let routingKey: String
    public let redelivered: Bool
    public let body: [UInt8]
    public let properties: AMQPProperties

    public init(
        deliveryTag: UInt64, connectionGeneration: Int, exchange: String, routingKey: String, redelivered: Bool,
        body: [UInt8], properties: AMQPProperties
    ) {
        self.deliveryTag = deliveryTag
        self.connectionGeneration = connectionGeneration
        self.exchange = exchange
        self.routingKey = routingKey
        self.redelivered = redelivered
        self.body = body
        self.properties = properties
    }
}

public enum AMQPError: Error, CustomStringConvertible {
    case invalidURL(String)
    case connection(String)
    case channelClosed(code: Int, text: String)
    case connectionClosed(code: Int, text: String)
    case timeout(String)
    case shutdown

    public var description: String {
        switch self {
        case .invalidURL(let url): "invalid AMQP URL: \(url)"
        case .connection(let message): "AMQP connection error: \(message)"
        case .channelClosed(let code, let text): "AMQP channel closed by the broker: \(code) \(text)"
        case .connectionClosed(let code, let text): "AMQP connection closed by the broker: \(code) \(text)"
        case .timeout(let what): "AMQP timeout: \(what)"
        case .shutdown: "AMQP client shut down"
        }
    }

    /// The broker refused an operation for lack of permission (403 ACCESS_REFUSED).
    public var isAccessRefused: Bool {
        switch self {
        case .channelClosed(let code, _), .connectionClosed(let code, _): code == 403
        default: false
        }
    }

    /// The broker refused a declare that disagrees with what exists (404 or 406).
    public var isNotFound: Bool {
        if case .channelClosed(let code, _) = self { return code == 404 }
        return false
    }
}

/// Where to connect: parsed from `amqp://user:password@host:port/vhost`.
public struct AMQPEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String

    public init(host: String, port: Int, user: String, password: String, vhost: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    public init(url: String) throws {
        guard let components = URLComponents(string: url), components.scheme == "amqp", let host = components.host
        else { throw AMQPError.invalidURL(url) }
        self.host = host
        self.port = components.port ?? 5672
        self.user = components.user?.removingPercentEncoding ?? "guest"
        self.password = components.password?.removingPercentEncoding ?? "guest"
        let path = components.percentEncodedPath
        if path.isEmpty || path == "/" {
            self.vhost = "/"
        } else {
            self.vhost = String(path.dropFirst()).removingPercentEncoding ?? String(path.dropFirst())
        }
    }
}
