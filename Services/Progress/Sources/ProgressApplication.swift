import Foundation
import Hummingbird
import ServiceKit

/// Builds the progress service from its configuration: every dependency is made here.
public func buildProgressApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: ProgressMigrations.all)
    let store = ProgressStore(database: runtime.database, logger: runtime.logger)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    ProgressController(store: store, verifier: try await runtime.tokenVerifier()).add(to: router)
    return runtime.application(router: router, consumer: try runtime.consumer(ProgressHandlers.all), openAPI: ProgressOpenAPI.document)
}
