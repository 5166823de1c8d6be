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
