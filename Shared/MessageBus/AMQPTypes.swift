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

    /// The broker could not start a replicated queue's Raft cluster in time: a transient
    /// refusal of a busy node, after which it has removed the queue.
    public var isClusterNotFormed: Bool {
        if case .connectionClosed(541, let text) = self { return text.contains("cluster_not_formed") }
        return false
    }

    /// The broker refused a declare that disagrees with what exists (404 or 406).
    public var isNotFound: Bool {
        if case .channelClosed(let code, _) = self { return code == 404 }
        return false
    }
}

/// One broker node: where a connection can be opened.
public struct AMQPNode: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// How a connection is encrypted: TLS, always verifying the broker's certificate chain and that it
/// names the host of the URL. The query keys are RabbitMQ's URI spec's.
public struct AMQPTLS: Sendable, Equatable {
    /// The certificate authorities trusted (`cacertfile`); the system's when not given.
    public var caFile: String
    /// A client certificate and its key (`certfile`, `keyfile`), for brokers that ask for one.
    public var certFile: String?
    public var keyFile: String?

    /// Debian's bundle of the system's trusted authorities.
    public static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"

    public init(caFile: String = AMQPTLS.systemCAFile, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}

/// Where to connect: parsed from `amqp://user:password@host:port/vhost` (plain) or
/// `amqps://user:password@host:port/vhost?cacertfile=/path/ca.pem` (TLS, verified), or from a
/// comma-separated list of such URLs, one per node of a cluster (`amqp://u:p@a:5672/v,amqp://u:p@b:5672/v`).
/// Every URL of a list names the same user, password, virtual host and TLS: they are one broker.
/// An `amqps` URL names its host by a DNS name: librabbitmq verifies a certificate's DNS names,
/// never an IP address, so an IP address could never be verified and is refused.
public struct AMQPEndpoint: Sendable, Equatable {
    /// The cluster's nodes, in the order they were given; a connection tries them in turn.
    public var nodes: [AMQPNode]
    public var user: String
    public var password: String
    public var vhost: String
    /// TLS, or nil for a plain connection (an `amqp://` URL: plain only when asked for).
    public var tls: AMQPTLS?

    /// The first node's host and port.
    public var host: String { nodes[0].host }
    public var port: Int { nodes[0].port }

    public init(host: String, port: Int, user: String, password: String, vhost: String) {
        self.init(nodes: [AMQPNode(host: host, port: port)], user: user, password: password, vhost: vhost)
    }

    public init(nodes: [AMQPNode], user: String, password: String, vhost: String, tls: AMQPTLS? = nil) {
        precondition(!nodes.isEmpty, "an endpoint needs a node")
        self.nodes = nodes
        self.user = user
        self.password = password
        self.vhost = vhost
        self.tls = tls
    }

    public init(url: String) throws {
        let parts = url.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = try parts.map { part -> AMQPEndpoint in
            guard !part.isEmpty, let endpoint = try Self.single(part) else { throw AMQPError.invalidURL(Self.redacted(url)) }
            return endpoint
        }
        let first = parsed[0]
        guard parsed.allSatisfy({ $0.user == first.user && $0.password == first.password && $0.vhost == first.vhost && $0.tls == first.tls })
        else {
            throw AMQPError.invalidURL("\(Self.redacted(url)): every node of a list must name the same user, password, vhost and TLS")
        }
        self.init(nodes: parsed.map { $0.nodes[0] }, user: first.user, password: first.password, vhost: first.vhost, tls: first.tls)
    }

    private static func single(_ url: String) throws -> AMQPEndpoint? {
        guard let components = URLComponents(string: url), let scheme = components.scheme, scheme == "amqp" || scheme == "amqps",
            let host = components.host, !host.isEmpty
        else { return nil }
        var tls: AMQPTLS?
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        if scheme == "amqps" {
            guard host.range(of: #"^[0-9.]+$|:"#, options: .regularExpression) == nil else {
                throw AMQPError.invalidURL(
                    "\(redacted(url)): an amqps URL names the broker by its DNS name (librabbitmq cannot verify a certificate for an IP address)")
            }
            tls = AMQPTLS(caFile: query["cacertfile"] ?? AMQPTLS.systemCAFile, certFile: query["certfile"], keyFile: query["keyfile"])
            guard (tls?.certFile == nil) == (tls?.keyFile == nil) else {
                throw AMQPError.invalidURL("\(redacted(url)): certfile and keyfile go together")
            }
        }
        let known: Set<String> = scheme == "amqps" ? ["cacertfile", "certfile", "keyfile"] : []
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw AMQPError.invalidURL("\(redacted(url)): unknown parameter \(unknown)")
        }
        let vhost: String
        let path = components.percentEncodedPath
        if path.isEmpty || path == "/" {
            vhost = "/"
        } else {
            vhost = String(path.dropFirst()).removingPercentEncoding ?? String(path.dropFirst())
        }
        return AMQPEndpoint(
            nodes: [AMQPNode(host: host, port: components.port ?? (tls == nil ? 5672 : 5671))],
            user: components.user?.removingPercentEncoding ?? "guest",
            password: components.password?.removingPercentEncoding ?? "guest", vhost: vhost, tls: tls)
    }

    /// The URL without its passwords, for error messages.
    static func redacted(_ url: String) -> String {
        url.replacing(/:[^:@\/,]*@/, with: ":***@")
    }
}
