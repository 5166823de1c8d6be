import Foundation
import Hummingbird

extension RequestContext {
    /// The UUID in the path parameter `name`; a malformed id names nothing, so it is a 404 like an
    /// unknown one.
    public func uuid(_ name: String = "id", of what: String) throws -> UUID {
        guard let text = parameters.get(name), let id = UUID(uuidString: text) else { throw Problem.notFound(what) }
        return id
    }
}

extension Request {
    /// The JSON body decoded, or nil when there is none (for routes whose body is optional).
    public func decodeIfPresent<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T? {
        var request = self
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        return body.readableBytes == 0 ? nil : try await request.decode(as: type, context: context)
    }
}
