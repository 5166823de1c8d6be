import Contracts
import Database
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Synchronization

/// What learning plans are configured with, read once from the content service's configuration
/// (`CONTENT_PLANS_…`, `CONTENT_INTEGRATIONS_KEY`, `CONTENT_NOTION_…`, `CONTENT_GOOGLE_…`,
/// `CONTENT_PUBLIC_URL`). The defaults are a plan service with no provider, no ceiling and no
/// integrations: what tests build.
public struct PlansSettings: Sendable {
    /// The most the provider may cost a UTC day, in cents; nil is no ceiling.
    public var dailySpendCeilingCents: Int?
    public var streamLimits: StreamLimits
    /// Where learners' calendar apps reach this service (feed URLs are built on it).
    public var publicURL: String
    /// The chat-completions provider that generates plans; nil generates them offline.
    public var provider: ChatCompletionsGenerator.Configuration?
    /// Seals the integrations' tokens; nil leaves Notion and Google Calendar unavailable.
    public var vault: TokenVault?
    public var notion: NotionClient?
    public var google: GoogleCalendarClient?

    public init(
        dailySpendCeilingCents: Int? = nil, streamLimits: StreamLimits = StreamLimits(), publicURL: String = "http://127.0.0.1:8080",
        provider: ChatCompletionsGenerator.Configuration? = nil, vault: TokenVault? = nil, notion: NotionClient? = nil, google: GoogleCalendarClient? = nil
    ) {
        self.dailySpendCeilingCents = dailySpendCeilingCents
        self.streamLimits = streamLimits
        self.publicURL = publicURL
        self.provider = provider
        self.vault = vault
        self.notion = notion
        self.google = google
    }

    public static func load(from configuration: ServiceConfiguration) throws -> PlansSettings {
        var settings = PlansSettings()
        // A spend ceiling that cannot be read stops the service rather than lifting the ceiling.
        if let text = configuration.nonEmpty("plans.daily.spend.cents") {
            guard let cents = Int(text), cents >= 0 else {
                throw ConfigurationError.invalid("CONTENT_PLANS_DAILY_SPEND_CENTS must be a whole number of cents (0 or more)")
            }
            settings.dailySpendCeilingCents = cents
        }
        settings.streamLimits = StreamLimits(
            perLearner: configuration.int("plans.streams.per.learner", default: 2), overall: configuration.int("plans.streams.max", default: 200))
        settings.publicURL = (configuration.nonEmpty("public.url") ?? "http://127.0.0.1:\(configuration.port)").withoutTrailingSlash
        if let url = configuration.nonEmpty("plans.provider.url") {
            settings.provider = ChatCompletionsGenerator.Configuration(
                baseURL: url, apiKey: configuration.string("plans.provider.key", default: ""),
                model: configuration.nonEmpty("plans.provider.model") ?? "gpt-4o-mini",
                timeout: TimeInterval(configuration.int("plans.provider.timeout.seconds", default: 60)),
                promptCentsPerMillion: configuration.int("plans.provider.prompt.cents.per.million", default: 0),
                completionCentsPerMillion: configuration.int("plans.provider.completion.cents.per.million", default: 0))
        }
        if let key = configuration.nonEmpty("integrations.key") {
            do {
                settings.vault = try TokenVault(
                    encodedKey: key, previousKeys: configuration.list("integrations.previous.keys"),
                    nextKeys: configuration.list("integrations.next.keys"))
            } catch {
                throw ConfigurationError.invalid(
                    "CONTENT_INTEGRATIONS_KEY, _PREVIOUS_KEYS and _NEXT_KEYS must be 32 random bytes each, base64 (openssl rand -base64 32)")
            }
        }
        if let id = configuration.nonEmpty("notion.client.id"), let secret = configuration.nonEmpty("notion.client.secret") {
            settings.notion = NotionClient(
                baseURL: configuration.string("notion.api.url", default: "https://api.notion.com"), clientID: id, clientSecret: secret)
        }
        if let id = configuration.nonEmpty("google.client.id"), let secret = configuration.nonEmpty("google.client.secret") {
            settings.google = GoogleCalendarClient(
                oauthURL: configuration.string("google.oauth.url", default: "https://oauth2.googleapis.com"),
                calendarURL: configuration.string("google.calendar.url", default: "https://www.googleapis.com/calendar/v3"), clientID: id, clientSecret: secret)
        }
        return settings
    }

    /// The generator the settings choose: the provider's, or the offline one.
    public var generator: any PlanGenerator {
        provider.map { ChatCompletionsGenerator($0) } ?? OfflineGenerator()
    }
}

/// What learning plans need to run inside a service: their routes, their worker and the
/// listener that wakes plan streams share these.
public struct PlansDependencies: Sendable {
    public var database: DatabasePool
    public var settings: PlansSettings
    /// Where the worker and the streams listen for their NOTIFY channels.
    public var listenURL: String
    public var signals: PlanSignals
    public var streams: PlanStreamGate
    public var logger: Logger

    public init(database: DatabasePool, settings: PlansSettings = PlansSettings(), listenURL: String = "", logger: Logger) {
        self.database = database
        self.settings = settings
        self.listenURL = listenURL
        self.signals = PlanSignals(listenURL: listenURL, logger: logger)
        self.streams = PlanStreamGate(settings.streamLimits)
        self.logger = logger
    }
}

/// Learning plans as a part of a service: its routes, its background work and the events it
/// consumes. The service that runs them adds each to its own.
public enum LearningPlansFeature {
    /// `/v1/plans…`, `/v1/integrations…` and the calendar feed, each in the group of who may call it.
    public static func addRoutes(to routes: RouteGroups, _ dependencies: PlansDependencies) {
        let store = PlanStore(database: dependencies.database, dailySpendCeilingCents: dependencies.settings.dailySpendCeilingCents)
        PlansController(store: store, signals: dependencies.signals, streams: dependencies.streams, publicURL: dependencies.settings.publicURL)
            .add(to: routes)
        let settings = dependencies.settings
        IntegrationsController(
            integrations: Integrations(database: dependencies.database, vault: settings.vault, notion: settings.notion, google: settings.google)
        ).add(to: routes)
    }

    /// The generation worker on the drain loop, and the one listener that wakes plan streams.
    public static func services(_ dependencies: PlansDependencies) -> [any Service] {
        let worker = PlanWorker(
            database: dependencies.database, generator: dependencies.settings.generator,
            dailySpendCeilingCents: dependencies.settings.dailySpendCeilingCents, logger: dependencies.logger)
        var services: [any Service] = [worker.draining(listenURL: dependencies.listenURL), dependencies.signals]
        if let vault = dependencies.settings.vault, !vault.previousKeyIDs.isEmpty {
            services.append(resealing(dependencies))
        }
        return services
    }

    /// Tokens sealed under a previous key are sealed again under the current one, a hundred rows
    /// at a time, in one sweep from the first row to the last; then once an hour (a replica not
    /// yet given the new key during a rolling change may have sealed some meanwhile). Each sweep
    /// that ends says how many rows it sealed again and how many it could not, and says so when
    /// no row is left under a previous key: the previous keys can then be dropped.
    static func resealing(_ dependencies: PlansDependencies) -> DrainingWorker {
        let integrations = Integrations(database: dependencies.database, vault: dependencies.settings.vault, notion: nil, google: nil)
        let logger = dependencies.logger
        let sweep = Mutex(Integrations.ResealProgress())
        return DrainingWorker("integration-reseal", idle: .seconds(3600), backoff: .seconds(60), logger: logger) {
            let progress = try await integrations.reseal(continuing: sweep.withLock { $0 })
            guard progress.done else {
                sweep.withLock { $0 = progress }
                return true
            }
            sweep.withLock { $0 = Integrations.ResealProgress() }
            let left = try await integrations.tokens(underKeys: integrations.vault?.previousKeyIDs ?? [])
            logger.info(
                left == 0
                    ? "integration tokens: none left under a previous key; the previous keys can be dropped"
                    : "integration tokens: some left under a previous key",
                metadata: ["resealed": "\(progress.resealed)", "unreadable": "\(progress.failed)", "left": "\(left)"])
            let unknown = try await integrations.tokensUnderUnknownKeys()
            if unknown > 0 {
                logger.warning("integration tokens sealed under a key no longer configured: their learners must connect again",
                    metadata: ["count": "\(unknown)"])
            }
            // Rows skipped while another replica held them: another sweep at once. Unreadable ones
            // stay, and are looked at again in an hour.
            return left > progress.failed && progress.resealed > 0
        }
    }

    /// The events plans consume: identity's profile changes (the learner's time zone).
    public static let handlers: [EventHandler] = [
        EventHandler(IdentityUserProfileUpdatedV1.self, name: "profiles") { event, connection in
            try PlanStore.applyProfile(event, on: connection)
        },
    ]
}
