import Hummingbird
import NIOCore

/// A request context that knows the connection's peer, for limits kept per client address (see
/// `ClientAddressResolver` for when `X-Forwarded-For` is believed).
public struct ClientRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
