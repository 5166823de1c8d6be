import Foundation
import Hummingbird
import ServiceKit

/// Builds the content service from its configuration: every dependency is made here.
public func buildContentApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: ContentMigrations.all)
    let store = CourseStore(database: runtime.database, logger: runtime.logger)
    if configuration.string("demo.course") == "true", try await DemoCourse.seedIfEmpty(store) {
        runtime.logger.info("seeded the demo course")
    }
    try await store.reannounceOutline()
    let verifier = try await runtime.tokenVerifier()

    var playback: MuxPlayback?
    if let keyID = configuration.nonEmpty("mux.signing.key.id"), let key = configuration.nonEmpty("mux.signing.key") {
        do {
            playback = try await MuxPlayback(
                keyID: keyID, privateKey: key,
                streamBase: configuration.string("mux.stream.url", default: "https://stream.mux.com"),
                imageBase: configuration.string("mux.image.url", default: "https://image.mux.com"))
        } catch {
            throw ConfigurationError.invalid("CONTENT_MUX_SIGNING_KEY must be an RSA private key (PEM, or base64 of a PEM as Mux gives it)")
        }
    }
    var mux: MuxClient?
    if let tokenID = configuration.nonEmpty("mux.token.id"), let secret = configuration.nonEmpty("mux.token.secret") {
        mux = MuxClient(
            baseURL: configuration.string("mux.api.url", default: "https://api.mux.com"), tokenID: tokenID, tokenSecret: secret,
            corsOrigin: configuration.string("app.url", default: "http://localhost:3000"))
    }

    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    CatalogueController(store: store, verifier: verifier, playback: playback).add(to: router)
    AuthoringController(store: store, verifier: verifier, mux: mux).add(to: router)
    MuxWebhookController(store: store, secret: configuration.nonEmpty("mux.webhook.secret")).add(to: router)
    let plans = PlanStore(database: runtime.database)
    PlansController(store: plans, verifier: verifier, listenURL: configuration.databaseURL, logger: runtime.logger).add(to: router)
    let worker = PlanWorker(database: runtime.database, listenURL: configuration.databaseURL, generator: OfflineGenerator(), logger: runtime.logger)
    return runtime.application(
        router: router, consumer: try runtime.consumer(ContentHandlers.all), services: [worker], openAPI: ContentOpenAPI.document)
}
