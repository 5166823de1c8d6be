import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// What progress's routes need; made by `buildProgressApplication`, or by a test.
public struct ProgressDependencies: Sendable {
    public var database: DatabasePool
    public var verifier: TokenVerifier
    public var logger: Logger

    public init(database: DatabasePool, verifier: TokenVerifier, logger: Logger) {
        self.database = database
        self.verifier = verifier
        self.logger = logger
    }
}

/// Progress's routes, each in the group of who may call it.
public func buildProgressRouter(_ dependencies: ProgressDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    ProgressController(progress: LearnerProgress(database: dependencies.database, logger: dependencies.logger)).add(to: routes)
    return routes.router
}

/// Builds the progress service from its configuration: every dependency is made here.
public func buildProgressApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: ProgressMigrations.all)
    let router = buildProgressRouter(
        ProgressDependencies(database: runtime.database, verifier: try await runtime.tokenVerifier(), logger: runtime.logger))
    let reconciler = LearnerProgress(database: runtime.database, logger: runtime.logger).reconciler(listenURL: configuration.databaseURL)
    return runtime.application(
        router: router, consumer: try runtime.consumer(ProgressHandlers.all), services: [reconciler], openAPI: ProgressOpenAPI.document)
}
