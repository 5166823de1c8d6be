import Foundation
import Hummingbird
import ServiceKit

/// Builds the billing service from its configuration: every dependency is made here.
public func buildBillingApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: BillingMigrations.all)
    let consumer = try runtime.consumer(BillingHandlers.all)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    return runtime.application(router: router, consumer: consumer, openAPI: BillingOpenAPI.document)
}
