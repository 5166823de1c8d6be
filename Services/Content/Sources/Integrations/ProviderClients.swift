import Contracts
import Foundation
import ServiceKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A provider's answer that is not a success, kept as the status and a short body.
public struct ProviderFailure: Error, CustomStringConvertible, Sendable {
    public let provider: String
    public let status: Int
    public let message: String

    /// The learner's grant is no longer good: they must connect again.
    public var unauthorized: Bool { status == 401 || status == 403 }
    public var description: String { "\(provider) answered \(status): \(message)" }

    /// As a problem for the learner: reconnect (409) when the grant is gone, else the provider failed (502).
    public var problem: Problem {
        unauthorized
            ? Problem(.conflict, code: "integration_unauthorized", title: "Connect \(provider) again", detail: "\(provider) no longer accepts the stored authorization.")
            : Problem(.badGateway, code: "integration_failed", title: "\(provider) did not complete the request", detail: "\(provider) answered \(status).")
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
    static func send(_ request: URLRequest, provider: String) async throws -> [String: Any] {
        for attempt in 1...3 {
            let status: Int, body: Data
            do {
                (status, body) = try await OutgoingHTTP.send(request)
            } catch {
                throw ProviderFailure(provider: provider, status: 0, message: "\(error)")
            }
            if status == 429, attempt < 3 {
                try await Task.sleep(for: .milliseconds(500 * attempt))
                continue
            }
            guard (200..<300).contains(status) else {
                throw ProviderFailure(provider: provider, status: status, message: String(decoding: body.prefix(300), as: UTF8.self))
            }
            if body.isEmpty { return [:] }
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw ProviderFailure(provider: provider, status: status, message: "the answer is not a JSON object")
            }
            return object
        }
        throw ProviderFailure(provider: provider, status: 429, message: "rate-limited")
    }

    static func json(_ method: String, _ url: String, bearer: String, body: [String: Any]?, headers: [String: String] = [:]) throws -> URLRequest {
        guard let url = URL(string: url) else { throw Problem(.internalServerError, code: "integration_misconfigured", title: "A provider URL is not valid") }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        return request
    }

    static func form(_ fields: [(String, String)]) -> Data {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Data(fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
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
        guard let url = URL(string: "\(baseURL)/v1/oauth/token") else { throw ProviderFailure(provider: "Notion", status: 0, message: "bad URL") }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = "POST"
        request.setValue("Basic " + Data("\(clientID):\(clientSecret)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI])
        let answer = try await ProviderHTTP.send(request, provider: "Notion")
        guard let token = answer["access_token"] as? String, !token.isEmpty else {
            throw ProviderFailure(provider: "Notion", status: 200, message: "no access_token in the answer")
        }
        return ProviderGrant(accessToken: token, refreshToken: answer["refresh_token"] as? String, expiresAt: nil, account: answer["workspace_name"] as? String)
    }

    static func richText(_ text: String) -> [[String: Any]] {
        // Notion takes at most 2000 characters per text object.
        [["type": "text", "text": ["content": String(text.prefix(2000))]]]
    }

    /// Creates a page under `parent` and returns its id and URL.
    public func createPage(token: String, parent: String, title: String, paragraphs: [String], links: [(String, String)] = []) async throws -> (id: String, url: String?) {
        var children: [[String: Any]] = paragraphs.filter { !$0.isEmpty }.map {
            ["object": "block", "type": "paragraph", "paragraph": ["rich_text": Self.richText($0)]]
        }
        children += links.map { title, url in
            ["object": "block", "type": "bulleted_list_item",
             "bulleted_list_item": ["rich_text": [["type": "text", "text": ["content": String(title.prefix(2000)), "link": ["url": url]]]]]]
        }
        let request = try ProviderHTTP.json(
            "POST", "\(baseURL)/v1/pages", bearer: token,
            body: ["parent": ["page_id": parent], "properties": ["title": ["title": Self.richText(title)]], "children": children],
            headers: ["Notion-Version": Self.version])
        let answer = try await ProviderHTTP.send(request, provider: "Notion")
        guard let id = answer["id"] as? String else { throw ProviderFailure(provider: "Notion", status: 200, message: "no page id in the answer") }
        return (id, answer["url"] as? String)
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
        guard let url = URL(string: "\(oauthURL)/token") else { throw ProviderFailure(provider: "Google", status: 0, message: "bad URL") }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = ProviderHTTP.form(fields + [("client_id", clientID), ("client_secret", clientSecret)])
        let answer = try await ProviderHTTP.send(request, provider: "Google")
        guard let token = answer["access_token"] as? String, !token.isEmpty else {
            throw ProviderFailure(provider: "Google", status: 200, message: "no access_token in the answer")
        }
        let expires = (answer["expires_in"] as? Int).map { now.addingTimeInterval(TimeInterval($0)) }
        return ProviderGrant(accessToken: token, refreshToken: answer["refresh_token"] as? String, expiresAt: expires, account: nil)
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

    static func path(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~@")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    static func body(_ item: PlanSchedule.Item, zone: String) -> [String: Any] {
        [
            "summary": item.title,
            "description": "\(item.estimatedMinutes) min · from your Syllabus learning plan",
            "start": ["dateTime": RFC3339.format(item.startsAt), "timeZone": zone],
            "end": ["dateTime": RFC3339.format(item.endsAt), "timeZone": zone],
            "extendedProperties": ["private": ["syllabusTaskId": item.taskId]],
        ]
    }

    /// Creates the task's event; returns the event id.
    public func create(_ item: PlanSchedule.Item, zone: String, calendar: String, token: String) async throws -> String {
        let answer = try await ProviderHTTP.send(
            try ProviderHTTP.json("POST", "\(calendarURL)/calendars/\(Self.path(calendar))/events", bearer: token, body: Self.body(item, zone: zone)), provider: "Google")
        guard let id = answer["id"] as? String else { throw ProviderFailure(provider: "Google", status: 200, message: "no event id in the answer") }
        return id
    }

    /// Replaces the event with the task's current times; false when the event no longer exists.
    public func update(_ event: String, with item: PlanSchedule.Item, zone: String, calendar: String, token: String) async throws -> Bool {
        do {
            _ = try await ProviderHTTP.send(
                try ProviderHTTP.json(
                    "PUT", "\(calendarURL)/calendars/\(Self.path(calendar))/events/\(Self.path(event))", bearer: token, body: Self.body(item, zone: zone)),
                provider: "Google")
            return true
        } catch let failure as ProviderFailure where failure.status == 404 || failure.status == 410 {
            return false
        }
    }

    /// Deletes the event; one already gone is fine.
    public func delete(_ event: String, calendar: String, token: String) async throws {
        do {
            _ = try await ProviderHTTP.send(
                try ProviderHTTP.json("DELETE", "\(calendarURL)/calendars/\(Self.path(calendar))/events/\(Self.path(event))", bearer: token, body: nil),
                provider: "Google")
        } catch let failure as ProviderFailure where failure.status == 404 || failure.status == 410 {}
    }
}
