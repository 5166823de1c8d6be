import Contracts
import Database
import Foundation
import ServiceKit

/// A learner's connections to Notion and Google Calendar, and the exports through them. Tokens
/// are sealed before they reach the database. An export reserves one unit of the month's export
/// quota before it calls the provider (so parallel exports cannot pass the limit) and gives it
/// back if the export fails.
public struct Integrations: Sendable {
    public enum Provider: String, Sendable, CaseIterable {
        case notion
        case googleCalendar = "google_calendar"

        /// As written in URLs: `notion`, `google-calendar`.
        public init?(path: String) {
            switch path {
            case "notion": self = .notion
            case "google-calendar": self = .googleCalendar
            default: return nil
            }
        }

        var name: String { self == .notion ? "Notion" : "Google Calendar" }
    }

    let database: DatabasePool
    let vault: TokenVault?
    let notion: NotionClient?
    let google: GoogleCalendarClient?

    public init(database: DatabasePool, vault: TokenVault?, notion: NotionClient?, google: GoogleCalendarClient?) {
        self.database = database
        self.vault = vault
        self.notion = notion
        self.google = google
    }

    static func unavailable(_ provider: Provider) -> DomainError {
        DomainError(.unavailable, code: "integration_unavailable", title: "\(provider.name) is not set up on this server")
    }

    func requireVault(_ provider: Provider) throws -> TokenVault {
        guard let vault else { throw Self.unavailable(provider) }
        return vault
    }

    // MARK: Connections

    public struct Connection: Codable, Sendable, Equatable {
        public var provider: String
        public var account: String?
        public var expiresAt: Date?
        public var connectedAt: Date
    }

    /// Exchanges an OAuth authorization code for tokens and keeps them, sealed, replacing any
    /// earlier grant for the provider.
    public func connect(_ provider: Provider, code: String, redirectURI: String, user: UUID, now: Date) async throws -> Connection {
        let vault = try requireVault(provider)
        let grant: ProviderGrant
        do {
            switch provider {
            case .notion:
                guard let notion else { throw Self.unavailable(provider) }
                grant = try await notion.exchange(code: code, redirectURI: redirectURI)
            case .googleCalendar:
                guard let google else { throw Self.unavailable(provider) }
                grant = try await google.exchange(code: code, redirectURI: redirectURI, now: now)
            }
        } catch let failure as ProviderFailure where (400..<500).contains(failure.status) {
            throw DomainError(.unprocessable, code: "authorization_rejected", title: "\(provider.name) refused the authorization code", detail: failure.message)
        } catch let failure as ProviderFailure {
            throw failure.domainError
        }
        try await store(grant, provider: provider, user: user, vault: vault)
        return Connection(provider: provider.rawValue, account: Self.bounded(grant.account), expiresAt: grant.expiresAt, connectedAt: now)
    }

    /// The account name as kept: at most 200 characters (counted as the database counts them).
    static func bounded(_ account: String?) -> String? {
        account.map { String(String.UnicodeScalarView($0.unicodeScalars.prefix(200))) }
    }

    func store(_ grant: ProviderGrant, provider: Provider, user: UUID, vault: TokenVault) async throws {
        let access = try vault.seal(grant.accessToken, user: user, provider: provider.rawValue)
        let sealedRefresh = try grant.refreshToken.map { try vault.seal($0, user: user, provider: provider.rawValue) }
        _ = try await database.transaction(asLearner: user) { connection in
            // A grant without a refresh token keeps the earlier one: sealed again under this
            // vault's key if another sealed it, since the row names one key for both tokens.
            var refresh = sealedRefresh
            if refresh == nil,
                let earlier = try connection.query(
                    "SELECT key_id, refresh_token FROM integration_tokens WHERE user_id = \(user) AND provider = \(provider.rawValue) FOR UPDATE"
                ).first,
                let sealed = try earlier.decode("refresh_token", as: Data?.self)
            {
                let keyID = try earlier.decode("key_id", as: String.self)
                refresh = keyID == vault.keyID
                    ? sealed : try? vault.seal(try vault.open(sealed, keyID: keyID, user: user, provider: provider.rawValue), user: user, provider: provider.rawValue)
            }
            try connection.execute(
                """
                INSERT INTO integration_tokens (user_id, provider, key_id, access_token, refresh_token, expires_at, account)
                VALUES (\(user), \(provider.rawValue), \(vault.keyID), \(access), \(refresh), \(grant.expiresAt), \(Self.bounded(grant.account)))
                ON CONFLICT (user_id, provider) DO UPDATE SET key_id = excluded.key_id, access_token = excluded.access_token,
                    refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
                    account = coalesce(excluded.account, integration_tokens.account), updated_at = now()
                """)
        }
    }

    /// Where a sweep of `reseal` has got to, and what it found.
    public struct ResealProgress: Sendable, Equatable {
        /// Rows sealed again under the current key.
        public var resealed = 0
        /// Rows under a previous key that did not open (damaged, or bound to another row): left
        /// as they are; their learners are asked to connect again.
        public var failed = 0
        /// The last row looked at: the next call goes on after it.
        public var after: RowKey?
        /// Whether the sweep reached the end.
        public var done = false

        public struct RowKey: Sendable, Equatable {
            public var user: UUID
            public var provider: String
        }

        public init(done: Bool = false) { self.done = done }
    }

    /// Seals again, under the current key, the next `limit` rows (in key order, after
    /// `progress.after`) sealed under a previous key: in the system scope, each row locked as it
    /// is rewritten (rows another replica holds are skipped, and found by a later sweep). A row
    /// that does not open is counted and left; the sweep goes on past it.
    public func reseal(limit: Int = 100, continuing progress: ResealProgress = ResealProgress()) async throws -> ResealProgress {
        guard let vault, !vault.previousKeyIDs.isEmpty else { return ResealProgress(done: true) }
        return try await database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            var query: Query = "SELECT user_id, provider, key_id, access_token, refresh_token FROM integration_tokens WHERE key_id = ANY(\(array: vault.previousKeyIDs))"
            if let after = progress.after { query.append(" AND (user_id, provider) > (\(after.user), \(after.provider))") }
            query.append(" ORDER BY user_id, provider LIMIT \(limit) FOR UPDATE SKIP LOCKED")
            let rows = try connection.query(query)
            var next = progress
            for row in rows {
                let user = try row.decode("user_id", as: UUID.self)
                let provider = try row.decode("provider", as: String.self)
                let keyID = try row.decode("key_id", as: String.self)
                next.after = ResealProgress.RowKey(user: user, provider: provider)
                let access: Data, refresh: Data?
                do {
                    access = try vault.seal(
                        try vault.open(try row.decode("access_token"), keyID: keyID, user: user, provider: provider), user: user, provider: provider)
                    refresh = try row.decode("refresh_token", as: Data?.self).map {
                        try vault.seal(try vault.open($0, keyID: keyID, user: user, provider: provider), user: user, provider: provider)
                    }
                } catch is TokenVault.Failure {
                    next.failed += 1
                    continue
                }
                try connection.execute(
                    """
                    UPDATE integration_tokens SET key_id = \(vault.keyID), access_token = \(access), refresh_token = \(refresh)
                     WHERE user_id = \(user) AND provider = \(provider) AND key_id = \(keyID)
                    """)
                next.resealed += 1
            }
            next.done = rows.count < limit
            return next
        }
    }

    /// Rows sealed under a key the vault does not hold at all: only their learners can replace
    /// them, by connecting again.
    public func tokensUnderUnknownKeys() async throws -> Int {
        guard let vault else { return 0 }
        return try await count("key_id <> ALL(\(array: [vault.keyID] + vault.otherKeyIDs))")
    }

    /// Rows sealed under one of `keys`.
    public func tokens(underKeys keys: [String]) async throws -> Int {
        try await count("key_id = ANY(\(array: keys))")
    }

    private func count(_ condition: Query) async throws -> Int {
        try await database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            var query: Query = "SELECT count(*) AS n FROM integration_tokens WHERE "
            query.append(condition)
            return try connection.query(query)[0].decode("n", as: Int.self)
        }
    }

    public func connections(of user: UUID) async throws -> [Connection] {
        try await database.transaction(asLearner: user) { connection in
            try connection.query("SELECT provider, account, expires_at, created_at FROM integration_tokens ORDER BY provider").map {
                Connection(
                    provider: try $0.decode("provider"), account: try $0.decode("account", as: String?.self), expiresAt: try $0.decode("expires_at", as: Date?.self),
                    connectedAt: try $0.decode("created_at"))
            }
        }
    }

    public func disconnect(_ provider: Provider, user: UUID) async throws {
        try await database.transaction(asLearner: user) { connection in
            guard try connection.execute("DELETE FROM integration_tokens WHERE provider = \(provider.rawValue)").affectedRows == 1 else {
                throw DomainError.notFound("connection")
            }
        }
    }

    /// The learner's usable access token: refreshed first if it expires within a minute.
    func accessToken(_ provider: Provider, user: UUID, now: Date) async throws -> String {
        let vault = try requireVault(provider)
        let row = try await database.transaction(asLearner: user) { connection in
            try connection.query("SELECT key_id, access_token, refresh_token, expires_at FROM integration_tokens WHERE provider = \(provider.rawValue)").first
        }
        guard let row else {
            throw DomainError(.conflict, code: "integration_not_connected", title: "Connect \(provider.name) first")
        }
        let keyID = try row.decode("key_id", as: String.self)
        let access: String
        let refreshToken: String?
        do {
            access = try vault.open(try row.decode("access_token"), keyID: keyID, user: user, provider: provider.rawValue)
            refreshToken = try row.decode("refresh_token", as: Data?.self).map { try vault.open($0, keyID: keyID, user: user, provider: provider.rawValue) }
        } catch TokenVault.Failure.unknownKey {
            throw DomainError(.conflict, code: "integration_unauthorized", title: "Connect \(provider.name) again", detail: "The stored authorization was sealed with a retired key.")
        } catch TokenVault.Failure.cannotOpen {
            throw DomainError(.conflict, code: "integration_unauthorized", title: "Connect \(provider.name) again", detail: "The stored authorization cannot be read.")
        }
        guard provider == .googleCalendar, let google, let expires = try row.decode("expires_at", as: Date?.self), expires < now.addingTimeInterval(60),
            let refreshToken
        else { return access }
        do {
            let grant = try await google.refresh(refreshToken, now: now)
            try await store(grant, provider: provider, user: user, vault: vault)
            return grant.accessToken
        } catch let failure as ProviderFailure {
            throw (failure.status == 400 || failure.unauthorized)
                ? DomainError(.conflict, code: "integration_unauthorized", title: "Connect \(provider.name) again", detail: "Google refused to refresh the authorization.")
                : failure.domainError
        }
    }

    // MARK: Exports

    /// Runs an export within the quota. One transaction takes a unit of the learner's month (or
    /// refuses with `quota_exceeded`; the plan must be ready) and loads what the export needs;
    /// the unit is given back if the export then fails.
    func export<Loaded: Sendable, T: Sendable>(
        _ plan: UUID, user: UUID, now: Date, loading load: @escaping @Sendable (PostgresConnection) throws -> Loaded, _ body: (Loaded) async throws -> T
    ) async throws -> T {
        let (month, loaded) = try await database.transaction(asLearner: user) { connection in
            let usage = try PlanStore.lockUsage(user, now: now, on: connection)
            guard let row = try connection.query("SELECT generation_status FROM learning_plans WHERE id = \(plan)").first else { throw DomainError.notFound("plan") }
            if let refusal = PlanTransitions.exportRefusal(status: try row.decode("generation_status")) { throw refusal }
            try PlanStore.requireQuota(.exports, of: user, usage: usage, on: connection)
            try connection.execute("UPDATE usage_metrics SET exports = exports + 1 WHERE user_id = \(user) AND month = \(usage.month)::date")
            return (usage.month, try load(connection))
        }
        do {
            return try await body(loaded)
        } catch {
            _ = try? await database.transaction(asLearner: user) { connection in
                try connection.execute("UPDATE usage_metrics SET exports = greatest(exports - 1, 0) WHERE user_id = \(user) AND month = \(month)::date")
            }
            if let failure = error as? ProviderFailure { throw failure.domainError }
            throw error
        }
    }

    public struct Export: Codable, Sendable, Equatable {
        public var destination: String
        public var itemCount: Int
        public var url: String?
        public var created: Int
        public var updated: Int
        public var deleted: Int
    }

    func record(_ export: Export, plan: UUID, user: UUID, now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO plan_exports (id, plan_id, user_id, destination, item_count, url)
            VALUES (\(UUIDv7.make()), \(plan), \(user), \(export.destination), \(export.itemCount), \(export.url.flatMap { $0.unicodeScalars.count <= 2000 ? $0 : nil }))
            """)
        try PlanStore.announce(
            plan, ContentPlanExportedV1(planId: plan.lowercased, userId: user.lowercased, destination: export.destination, itemCount: export.itemCount, exportedAt: now),
            on: connection)
    }

    /// Exports the plan to Notion: a page for the plan under `parentPage`, one per module under
    /// it, and one per task under its module, with the task's resources as links.
    public func exportToNotion(_ planID: UUID, parentPage: String, user: UUID, now: Date) async throws -> Export {
        guard let notion else { throw Self.unavailable(.notion) }
        return try await export(planID, user: user, now: now, loading: { connection in try PlanStore.plan(planID, on: connection) }) { plan in
            let token = try await accessToken(.notion, user: user, now: now)
            var pages = 0
            let root = try await notion.createPage(
                token: token, parent: parentPage, title: plan.topic,
                paragraphs: ["A \(plan.skillLevel) plan, \(plan.weeklyHours) hours a week (\(plan.learningStyle))."] + (plan.notes.map { [$0] } ?? []))
            pages += 1
            for module in plan.modules ?? [] {
                let page = try await notion.createPage(
                    token: token, parent: root.id, title: "\(module.order). \(module.title)", paragraphs: [module.description, "About \(module.estimatedMinutes) minutes."])
                pages += 1
                for task in module.tasks {
                    _ = try await notion.createPage(
                        token: token, parent: page.id, title: task.title, paragraphs: [task.description, "About \(task.estimatedMinutes) minutes."],
                        links: task.resources.map { ($0.title, $0.url) })
                    pages += 1
                }
            }
            let export = Export(destination: "notion", itemCount: pages, url: root.url, created: pages, updated: 0, deleted: 0)
            try await database.transaction(asLearner: user) { connection in try record(export, plan: planID, user: user, now: now, on: connection) }
            return export
        }
    }

    /// Syncs the plan's schedule to a Google calendar: one event per scheduled task, created
    /// once and then updated in place (only when its times or title changed); events of tasks no
    /// longer scheduled are deleted. Each event is recorded as soon as it exists, so a sync that
    /// fails halfway is completed, not duplicated, by the next.
    public func syncToGoogle(_ planID: UUID, calendar: String, user: UUID, now: Date) async throws -> Export {
        guard let google else { throw Self.unavailable(.googleCalendar) }
        let load = { @Sendable (connection: PostgresConnection) throws -> (PlanSchedule, [String: CalendarEvent]) in
            let schedule = try PlanStore.schedule(planID, of: user, on: connection).0
            var known: [String: CalendarEvent] = [:]
            for row in try connection.query("SELECT task_id, calendar_id, event_id, fingerprint FROM task_calendar_events WHERE plan_id = \(planID)") {
                known[try row.decode("task_id", as: UUID.self).lowercased] = CalendarEvent(
                    calendar: try row.decode("calendar_id"), event: try row.decode("event_id"), fingerprint: try row.decode("fingerprint"))
            }
            return (schedule, known)
        }
        return try await export(planID, user: user, now: now, loading: load) { schedule, known in
            let token = try await accessToken(.googleCalendar, user: user, now: now)
            var created = 0, updated = 0, deleted = 0
            let items = schedule.weeks.flatMap(\.tasks)
            for item in items {
                let fingerprint = "\(calendar)|\(RFC3339.format(item.startsAt))|\(RFC3339.format(item.endsAt))|\(item.title)"
                var event = known[item.taskId]
                if let existing = event, existing.calendar != calendar {
                    try await google.delete(existing.event, calendar: existing.calendar, token: token)
                    event = nil
                }
                if let existing = event {
                    if existing.fingerprint == fingerprint { continue }
                    if try await google.update(existing.event, with: item, zone: schedule.timeZone, calendar: calendar, token: token) {
                        updated += 1
                        try await remember(item.taskId, plan: planID, user: user, calendar: calendar, event: existing.event, fingerprint: fingerprint)
                        continue
                    }
                }
                let id = try await google.create(item, zone: schedule.timeZone, calendar: calendar, token: token)
                created += 1
                try await remember(item.taskId, plan: planID, user: user, calendar: calendar, event: id, fingerprint: fingerprint)
            }
            let scheduled = Set(items.map(\.taskId))
            for (task, event) in known where !scheduled.contains(task) {
                try await google.delete(event.event, calendar: event.calendar, token: token)
                deleted += 1
                _ = try await database.transaction(asLearner: user) { connection in
                    try connection.execute("DELETE FROM task_calendar_events WHERE task_id = \(UUID(uuidString: task)!)")
                }
            }
            let export = Export(destination: "google_calendar", itemCount: created + updated + deleted, url: nil, created: created, updated: updated, deleted: deleted)
            try await database.transaction(asLearner: user) { connection in try record(export, plan: planID, user: user, now: now, on: connection) }
            return export
        }
    }

    /// A task's event in a Google calendar, as last synced.
    struct CalendarEvent: Sendable {
        var calendar: String
        var event: String
        var fingerprint: String
    }

    func remember(_ task: String, plan: UUID, user: UUID, calendar: String, event: String, fingerprint: String) async throws {
        _ = try await database.transaction(asLearner: user) { connection in
            try connection.execute(
                """
                INSERT INTO task_calendar_events (task_id, plan_id, user_id, calendar_id, event_id, fingerprint)
                VALUES (\(UUID(uuidString: task)!), \(plan), \(user), \(calendar), \(event), \(fingerprint))
                ON CONFLICT (task_id) DO UPDATE SET calendar_id = excluded.calendar_id, event_id = excluded.event_id,
                    fingerprint = excluded.fingerprint, synced_at = now()
                """)
        }
    }
}
