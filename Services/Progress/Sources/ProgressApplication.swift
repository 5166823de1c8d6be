import Foundation
import Hummingbird
import ServiceKit

/// Builds the progress service from its configuration: every dependency is made here.
public func buildProgressApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: ProgressMigrations.all)
    let consumer = try runtime.consumer(ProgressHandlers.all)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    return runtime.application(router: router, consumer: consumer, openAPI: ProgressOpenAPI.document)
}
