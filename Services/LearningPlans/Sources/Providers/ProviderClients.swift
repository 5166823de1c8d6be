import Contracts
import Foundation
import ServiceKit

/// A provider's answer that is not a success, kept as the status and a short body.
public struct ProviderFailure: Error, CustomStringConvertible, Sendable {
    public let provider: String
    public let status: Int
    public let message: String

    /// The learner's grant is no longer good: they must connect again.
    public var unauthorized: Bool { status == 401 || status == 403 }
    public var description: String { "\(provider) answered \(status): \(message)" }

    /// What it means for the learner: connect again when the grant is gone, else the provider
    /// failed.
    public var domainError: DomainError {
        unauthorized
            ? DomainError(.conflict, code: "integration_unauthorized", title: "Connect \(provider) again", detail: "\(provider) no longer accepts the stored authorization.")
            : DomainError(.upstreamFailed, code: "integration_failed", title: "\(provider) did not complete the request", detail: "\(provider) answered \(status).")
    }
}

/// The tokens of an OAuth grant, as providers answer them.
public struct ProviderGrant: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String?
    public var expiresAt: Date?
    /// The account or workspace the grant is for, when the provider says.
    public var account: String?
}

enum ProviderHTTP {
    /// Sends a request; a 429 is waited out briefly (half a second, then a second) before giving up.
    static func send(_ provider: String, _ method: String, _ url: String, authorization: String? = nil, body: OutgoingHTTP.Body? = nil,
                     headers: [String: String] = [:]) async throws -> JSONValue {
        for attempt in 1...3 {
            let status: Int, answer: JSONValue
            do {
                (status, answer) = try await OutgoingHTTP.sendJSON(
                    OutgoingHTTP.request(method, url, authorization: authorization, body: body, headers: headers, timeout: 30))
            } catch {
                throw ProviderFailure(provider: provider, status: 0, message: "\(error)")
            }
            if status == 429, attempt < 3 {
                try await Task.sleep(for: .milliseconds(500 * attempt))
                continue
            }
            guard (200..<300).contains(status) else {
                throw ProviderFailure(provider: provider, status: status, message: String(describing: answer).prefix(300).description)
            }
            return answer
        }
        throw ProviderFailure(provider: provider, status: 429, message: "rate-limited")
    }
}
/// Notion's public API: the OAuth code exchange and page creation.
public struct NotionClient: Sendable {
    public var baseURL: String
    public var clientID: String
    public var clientSecret: String
    static let version = "2022-06-28"

    public init(baseURL: String, clientID: String, clientSecret: String) {
        self.baseURL = baseURL.withoutTrailingSlash
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    public func exchange(code: String, redirectURI: String) async throws -> ProviderGrant {
        let answer = try await ProviderHTTP.send(
            "Notion", "POST", "\(baseURL)/v1/oauth/token", authorization: OutgoingHTTP.basic(clientID, clientSecret),
            body: .json(["grant_type": "authorization_code", "code": .string(code), "redirect_uri": .string(redirectURI)]))
        guard let token = answer["access_token"].string, !token.isEmpty else {
            throw ProviderFailure(provider: "Notion", status: 200, message: "no access_token in the answer")
        }
        return ProviderGrant(accessToken: token, refreshToken: answer["refresh_token"].string, expiresAt: nil, account: answer["workspace_name"].string)
    }

    static func richText(_ text: String, link: String? = nil) -> JSONValue {
        // Notion takes at most 2000 characters per text object.
        var content: [String: JSONValue] = ["content": .string(String(text.prefix(2000)))]
        if let link { content["link"] = ["url": .string(link)] }
        return [["type": "text", "text": .object(content)]]
    }

    static func block(_ type: String, _ text: JSONValue) -> JSONValue {
        ["object": "block", "type": .string(type), type: ["rich_text": text]]
    }

    /// Creates a page under `parent` and returns its id and URL.
    public func createPage(token: String, parent: String, title: String, paragraphs: [String], links: [(String, String)] = []) async throws -> (id: String, url: String?) {
        let children = paragraphs.filter { !$0.isEmpty }.map { Self.block("paragraph", Self.richText($0)) }
            + links.map { title, url in Self.block("bulleted_list_item", Self.richText(title, link: url)) }
        let answer = try await ProviderHTTP.send(
            "Notion", "POST", "\(baseURL)/v1/pages", authorization: "Bearer \(token)",
            body: .json([
                "parent": ["page_id": .string(parent)], "properties": ["title": ["title": Self.richText(title)]], "children": .array(children),
            ]),
            headers: ["Notion-Version": Self.version])
        guard let id = answer["id"].string else { throw ProviderFailure(provider: "Notion", status: 200, message: "no page id in the answer") }
        return (id, answer["url"].string)
    }
}

/// Google's OAuth token endpoint and Calendar API (events of one calendar).
public struct GoogleCalendarClient: Sendable {
    public var oauthURL: String
    public var calendarURL: String
    public var clientID: String
    public var clientSecret: String

    public init(oauthURL: String, calendarURL: String, clientID: String, clientSecret: String) {
        self.oauthURL = oauthURL.withoutTrailingSlash
        self.calendarURL = calendarURL.withoutTrailingSlash
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    func token(_ fields: [(String, String)], now: Date) async throws -> ProviderGrant {
        let answer = try await ProviderHTTP.send(
            "Google", "POST", "\(oauthURL)/token", body: .form(fields + [("client_id", clientID), ("client_secret", clientSecret)]))
        guard let token = answer["access_token"].string, !token.isEmpty else {
            throw ProviderFailure(provider: "Google", status: 200, message: "no access_token in the answer")
        }
        let expires = answer["expires_in"].int.map { now.addingTimeInterval(TimeInterval($0)) }
        return ProviderGrant(accessToken: token, refreshToken: answer["refresh_token"].string, expiresAt: expires, account: nil)
    }

    public func exchange(code: String, redirectURI: String, now: Date) async throws -> ProviderGrant {
        try await token([("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI)], now: now)
    }

    public func refresh(_ refreshToken: String, now: Date) async throws -> ProviderGrant {
        var grant = try await token([("grant_type", "refresh_token"), ("refresh_token", refreshToken)], now: now)
        // Google does not repeat the refresh token on a refresh: the old one stays good.
        grant.refreshToken = grant.refreshToken ?? refreshToken
        return grant
    }

    func events(_ calendar: String, _ event: String? = nil) -> String {
        "\(calendarURL)/calendars/\(OutgoingHTTP.escape(calendar))/events" + (event.map { "/\(OutgoingHTTP.escape($0))" } ?? "")
    }

    static func body(_ item: PlanSchedule.Item, zone: String) -> OutgoingHTTP.Body {
        .json([
            "summary": .string(item.title),
            "description": .string("\(item.estimatedMinutes) min · from your Syllabus learning plan"),
            "start": ["dateTime": .string(RFC3339.format(item.startsAt)), "timeZone": .string(zone)],
            "end": ["dateTime": .string(RFC3339.format(item.endsAt)), "timeZone": .string(zone)],
            "extendedProperties": ["private": ["syllabusTaskId": .string(item.taskId)]],
        ])
    }

    /// Creates the task's event; returns the event id.
    public func create(_ item: PlanSchedule.Item, zone: String, calendar: String, token: String) async throws -> String {
        let answer = try await ProviderHTTP.send("Google", "POST", events(calendar), authorization: "Bearer \(token)", body: Self.body(item, zone: zone))
        guard let id = answer["id"].string else { throw ProviderFailure(provider: "Google", status: 200, message: "no event id in the answer") }
        return id
    }

    /// Replaces the event with the task's current times; false when the event no longer exists.
    public func update(_ event: String, with item: PlanSchedule.Item, zone: String, calendar: String, token: String) async throws -> Bool {
        do {
            _ = try await ProviderHTTP.send("Google", "PUT", events(calendar, event), authorization: "Bearer \(token)", body: Self.body(item, zone: zone))
            return true
        } catch let failure as ProviderFailure where failure.status == 404 || failure.status == 410 {
            return false
        }
    }

    /// Deletes the event; one already gone is fine.
    public func delete(_ event: String, calendar: String, token: String) async throws {
        do {
            _ = try await ProviderHTTP.send("Google", "DELETE", events(calendar, event), authorization: "Bearer \(token)")
        } catch let failure as ProviderFailure where failure.status == 404 || failure.status == 410 {}
    }
}
