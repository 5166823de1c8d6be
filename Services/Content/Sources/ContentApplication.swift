import Database
import Foundation
import Hummingbird
import LearningPlans
import Logging
import ServiceKit

/// What content is configured with, read once from its configuration (`CONTENT_DEMO_COURSE`,
/// `CONTENT_MUX_…`, `CONTENT_APP_URL`, `CONTENT_OUTLINE_QUIET_MS`, `CONTENT_OUTLINE_MAX_DELAY_MS`);
/// learning plans read theirs in `PlansSettings`. The
/// defaults are a content service without video: what tests build.
public struct ContentSettings: Sendable {
    /// Seeds the demo course into an empty catalogue at start.
    public var demoCourse: Bool
    /// Signs playback tokens; nil answers playback with `video_unavailable`.
    public var playback: MuxPlayback?
    /// Creates direct uploads; nil answers uploads with `video_unavailable`.
    public var mux: MuxClient?
    /// Checks Mux's webhook signatures; nil refuses the webhook with `video_unavailable`.
    public var muxWebhookSecret: String?
    /// When outline changes are announced.
    public var outline: OutlineAnnouncing

    public init(
        demoCourse: Bool = false, playback: MuxPlayback? = nil, mux: MuxClient? = nil, muxWebhookSecret: String? = nil,
        outline: OutlineAnnouncing = OutlineAnnouncing()
    ) {
        self.demoCourse = demoCourse
        self.playback = playback
        self.mux = mux
        self.muxWebhookSecret = muxWebhookSecret
        self.outline = outline
    }

    public static func load(from configuration: ServiceConfiguration) async throws -> ContentSettings {
        let defaults = OutlineAnnouncing()
        let quiet = configuration.int("outline.quiet.ms", default: defaults.quiet.milliseconds)
        let maxDelay = configuration.int("outline.max.delay.ms", default: defaults.maxDelay.milliseconds)
        guard quiet >= 0, maxDelay >= quiet else {
            throw ConfigurationError.invalid("CONTENT_OUTLINE_QUIET_MS must be ≥ 0 and CONTENT_OUTLINE_MAX_DELAY_MS at least as long")
        }
        var settings = ContentSettings(
            demoCourse: configuration.string("demo.course") == "true", muxWebhookSecret: configuration.nonEmpty("mux.webhook.secret"),
            outline: OutlineAnnouncing(quiet: .milliseconds(quiet), maxDelay: .milliseconds(maxDelay)))
        if let keyID = configuration.nonEmpty("mux.signing.key.id"), let key = configuration.nonEmpty("mux.signing.key") {
            do {
                settings.playback = try await MuxPlayback(
                    keyID: keyID, privateKey: key,
                    streamBase: configuration.string("mux.stream.url", default: "https://stream.mux.com"),
                    imageBase: configuration.string("mux.image.url", default: "https://image.mux.com"))
            } catch {
                throw ConfigurationError.invalid("CONTENT_MUX_SIGNING_KEY must be an RSA private key (PEM, or base64 of a PEM as Mux gives it)")
            }
        }
        if let tokenID = configuration.nonEmpty("mux.token.id"), let secret = configuration.nonEmpty("mux.token.secret") {
            settings.mux = MuxClient(
                baseURL: configuration.string("mux.api.url", default: "https://api.mux.com"), tokenID: tokenID, tokenSecret: secret,
                corsOrigin: configuration.string("app.url", default: "http://localhost:3000"))
        }
        return settings
    }
}

/// What content's routes need — its learning plans' included; made by
/// `buildContentApplication`, or by a test.
public struct ContentDependencies: Sendable {
    public var database: DatabasePool
    public var verifier: TokenVerifier
    public var settings: ContentSettings
    public var plans: PlansDependencies
    public var logger: Logger

    public init(
        database: DatabasePool, verifier: TokenVerifier, settings: ContentSettings = ContentSettings(), plans: PlansSettings = PlansSettings(),
        listenURL: String = "", logger: Logger
    ) {
        self.database = database
        self.verifier = verifier
        self.settings = settings
        self.plans = PlansDependencies(database: database, settings: plans, listenURL: listenURL, logger: logger)
        self.logger = logger
    }
}

/// Content's routes — the course, its authoring, Mux's webhook, and learning plans — each in
/// the group of who may call it. One OpenAPI document describes them all.
public func buildContentRouter(_ dependencies: ContentDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    let settings = dependencies.settings
    let store = CourseStore(database: dependencies.database, announcing: settings.outline, logger: dependencies.logger)
    CatalogueController(store: store, playback: settings.playback).add(to: routes)
    AuthoringController(store: store, mux: settings.mux).add(to: routes)
    MuxWebhookController(store: store, secret: settings.muxWebhookSecret).add(to: routes)
    LearningPlansFeature.addRoutes(to: routes, dependencies.plans)
    return routes.router
}

/// Builds the content service from its configuration: every dependency is made here.
public func buildContentApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: ContentMigrations.all)
    let settings = try await ContentSettings.load(from: configuration)
    let plans = try PlansSettings.load(from: configuration)
    let store = CourseStore(database: runtime.database, announcing: settings.outline, logger: runtime.logger)
    if settings.demoCourse, try await DemoCourse.seedIfEmpty(store) {
        runtime.logger.info("seeded the demo course")
    }
    try await store.reannounceOutline()
    if let provider = plans.provider { runtime.logger.info("learning plans are generated by \(provider.baseURL)") }
    let dependencies = ContentDependencies(
        database: runtime.database, verifier: try await runtime.tokenVerifier(), settings: settings, plans: plans, listenURL: configuration.databaseURL,
        logger: runtime.logger)
    return runtime.application(
        router: buildContentRouter(dependencies), consumer: try runtime.consumer(ContentHandlers.all),
        services: LearningPlansFeature.services(dependencies.plans) + [OutlineAnnouncing.worker(store, logger: runtime.logger)], openAPI: ContentOpenAPI.document)
}
