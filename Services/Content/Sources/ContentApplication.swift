import Foundation
import Hummingbird
import ServiceKit

/// Builds the content service from its configuration: every dependency is made here.
public func buildContentApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: ContentMigrations.all)
    let consumer = try runtime.consumer(ContentHandlers.all)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    return runtime.application(router: router, consumer: consumer, openAPI: ContentOpenAPI.document)
}
