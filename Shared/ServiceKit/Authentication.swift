import Hummingbird
import NIOCore

/// The request context of every service: the connection's peer (for limits kept per client
/// address, see `ClientAddressResolver`) and the caller, once an authentication middleware has
/// verified their token.
public struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `Authentication`; nil on routes that need no token.
    public var caller: AuthenticatedUser?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The caller of a route behind `Authentication`; 401 anywhere else, so a route that forgot
    /// its group fails closed.
    public var user: AuthenticatedUser {
        get throws {
            guard let caller else { throw Problem.unauthenticated }
            return caller
        }
    }
}

/// Who may call a group of routes.
public enum Access: String, Sendable, CaseIterable {
    /// Anyone, without a token.
    case open
    /// Anyone; a token, when sent, must be valid and its user is the caller.
    case identified
    /// A signed-in user (any role).
    case learner
    /// An admin.
    case admin
}

/// Verifies the bearer token of every request of a group and records its user as the caller:
/// 401 without a valid token, 403 when the group is for admins and the caller is not one.
public struct Authentication: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    let verifier: TokenVerifier
    let access: Access

    public init(_ access: Access, verifier: TokenVerifier) {
        self.access = access
        self.verifier = verifier
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        switch access {
        case .open:
            context.caller = nil
        case .identified:
            context.caller = request.headers[.authorization] == nil ? nil : try await verifier.authenticate(request)
        case .learner:
            context.caller = try await verifier.authenticate(request)
        case .admin:
            context.caller = try await verifier.authenticateAdmin(request)
        }
        return try await next(request, context)
    }
}

/// A service's routes in groups by who may call them; a route is added to the group of its
/// access, and the group's middleware guards it. No handler checks a token itself.
public struct RouteGroups {
    public let router: Router<ServiceRequestContext>
    /// No token (health, webhooks from providers, public documents, sign-in).
    public let open: RouterGroup<ServiceRequestContext>
    /// A token when one is sent (the caller may be anonymous).
    public let identified: RouterGroup<ServiceRequestContext>
    /// A valid token.
    public let learner: RouterGroup<ServiceRequestContext>
    /// A valid token of an admin.
    public let admin: RouterGroup<ServiceRequestContext>

    public init(_ router: Router<ServiceRequestContext>, verifier: TokenVerifier) {
        self.router = router
        open = router.group()
        identified = router.group().add(middleware: Authentication(.identified, verifier: verifier))
        learner = router.group().add(middleware: Authentication(.learner, verifier: verifier))
        admin = router.group().add(middleware: Authentication(.admin, verifier: verifier))
    }

    public subscript(_ access: Access) -> RouterGroup<ServiceRequestContext> {
        switch access {
        case .open: open
        case .identified: identified
        case .learner: learner
        case .admin: admin
        }
    }
}
