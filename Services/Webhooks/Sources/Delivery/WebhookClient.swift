import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// POSTs one delivery to one checked address: TLS verified against the URL's host name (SNI
/// and certificate), no redirect followed (a 3xx is an answer like any other), the whole
/// attempt bounded by a timeout, and at most `excerptLimit` bytes of the answer read.
public struct WebhookClient: Sendable {
    public struct Answer: Sendable, Equatable {
        public var status: Int
        /// The start of the body, for the delivery log.
        public var excerpt: String
    }

    public struct TransportError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    let group: any EventLoopGroup
    let tls: NIOSSLContext
    let excerptLimit: Int

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, excerptLimit: Int = 1024) throws {
        self.group = group
        self.tls = try NIOSSLContext(configuration: .makeClientConfiguration())
        self.excerptLimit = excerptLimit
    }

    public func post(
        to destination: DestinationPolicy.Destination, address: String, headers: [(String, String)], body: [UInt8], timeout: TimeAmount
    ) async throws -> Answer {
        let loop = group.next()
        let promise = loop.makePromise(of: Answer.self)
        let once = Once(promise)
        let tls = destination.secure ? tls : nil
        let serverName = DestinationPolicy.ipv4Bytes(destination.host) == nil && DestinationPolicy.ipv6Bytes(destination.host) == nil
            ? destination.host : nil
        let limit = excerptLimit
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: address, port: destination.port)
        } catch {
            throw TransportError(message: "not an address: \(address)")
        }
        let deadline = loop.scheduleTask(in: timeout) { once.fail(TransportError(message: "timed out after \(timeout.nanoseconds / 1_000_000_000) s")) }
        defer { deadline.cancel() }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    do {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(AnswerCollector(once: once, limit: limit))
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
                .connect(to: socketAddress).get()
        } catch {
            loop.execute { once.fail(error) }
            throw TransportError(message: "could not connect: \(Self.describe(error))")
        }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: destination.target)
        head.headers.add(name: "Host", value: destination.hostHeader)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        head.headers.add(name: "User-Agent", value: "Syllabus-Webhooks/1")
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let buffer = channel.allocator.buffer(bytes: body)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { channel.close(promise: nil) }
        do {
            return try await promise.futureResult.get()
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(message: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        return text.count > 300 ? String(text.prefix(300)) : text
    }
}

/// The promise of one attempt, completed once: by the answer, a failure or the deadline,
/// whichever comes first (all on the attempt's event loop).
final class Once: @unchecked Sendable {
    let promise: EventLoopPromise<WebhookClient.Answer>
    private var done = false

    init(_ promise: EventLoopPromise<WebhookClient.Answer>) { self.promise = promise }

    var isDone: Bool { done }

    func succeed(_ answer: WebhookClient.Answer) {
        guard !done else { return }
        done = true
        promise.succeed(answer)
    }

    func fail(_ error: any Error) {
        guard !done else { return }
        done = true
        promise.fail(error)
    }
}

/// Reads the answer's status and the start of its body, then lets the connection go.
final class AnswerCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    let once: Once
    let limit: Int
    var status: Int?
    var body: [UInt8] = []

    init(once: Once, limit: Int) {
        self.once = once
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var buffer):
            let room = limit - body.count
            if room > 0, let bytes = buffer.readBytes(length: min(room, buffer.readableBytes)) { body += bytes }
            if body.count >= limit { finish(context: context) }
        case .end:
            finish(context: context)
        }
    }

    func finish(context: ChannelHandlerContext) {
        guard !once.isDone, let status else { return }
        once.succeed(.init(status: status, excerpt: String(decoding: body, as: UTF8.self)))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        once.fail(WebhookClient.TransportError(message: status == nil ? "the connection closed without an answer" : "the answer was cut off"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.fail(WebhookClient.TransportError(message: WebhookClient.describe(error)))
        context.close(promise: nil)
    }
}
