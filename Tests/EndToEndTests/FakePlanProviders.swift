import Foundation
import Hummingbird
import NIOCore

private func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))))
}

private func object(_ request: Request) async throws -> [String: Any] {
    var request = request
    let body = try await request.collectBody(upTo: 1 << 20)
    return (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
}

/// An OpenAI-compatible chat-completions server that answers from a script, one step per
/// request (the last step repeats), and records what it was asked.
final class FakeChatProvider: @unchecked Sendable {
    enum Step: Sendable {
        case plan(modules: Int, tasks: Int, minutes: Int)
        case content(String)
        case status(Int)
        case cutShort
        case slow(seconds: Int)
    }

    let port: Int
    let apiKey = "sk-fake-provider"
    private let lock = NSLock()
    private var script: [Step]
    private var _requests: [[String: Any]] = []

    init(port: Int, script: [Step]) {
        self.port = port
        self.script = script
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    var requests: [[String: Any]] { lock.withLock { _requests } }

    func setScript(_ steps: [Step]) { lock.withLock { script = steps } }

    static func planJSON(modules: Int, tasks: Int, minutes: Int) -> String {
        let plan: [String: Any] = [
            "modules": (1...modules).map { m in
                [
                    "title": "Module \(m)", "description": "Part \(m)",
                    "tasks": (1...tasks).map { t in
                        [
                            "title": "Task \(m).\(t)", "description": "Do \(m).\(t)", "estimatedMinutes": minutes,
                            "resources": [
                                ["type": "article", "title": "Reading \(m).\(t)", "url": "https://example.com/\(m)/\(t)"],
                                ["type": "podcast", "title": "Odd type", "url": "https://example.com/odd"],
                                ["type": "doc", "title": "Not a link", "url": "javascript:alert(1)"],
                            ],
                        ] as [String: Any]
                    },
                ] as [String: Any]
            }
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: plan), as: UTF8.self)
    }

    static func completion(_ content: String, finish: String = "stop") -> [String: Any] {
        [
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_790_000_000, "model": "fake-model",
            "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": finish]],
            "usage": ["prompt_tokens": 1200, "completion_tokens": 3400, "total_tokens": 4600],
        ]
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ in
            guard request.headers[.authorization] == "Bearer \(self.apiKey)" else {
                return json(["error": ["message": "Incorrect API key provided", "type": "invalid_request_error"]], status: .unauthorized)
            }
            let body = try await object(request)
            let step = self.lock.withLock {
                self._requests.append(body)
                return self.script.count > 1 ? self.script.removeFirst() : self.script[0]
            }
            switch step {
            case .plan(let modules, let tasks, let minutes):
                return json(Self.completion(Self.planJSON(modules: modules, tasks: tasks, minutes: minutes)))
            case .content(let text):
                return json(Self.completion(text))
            case .status(let code):
                return json(["error": ["message": "scripted failure", "type": "server_error"]], status: HTTPResponse.Status(code: code))
            case .cutShort:
                return json(Self.completion(#"{"modules":[{"title":"Mod"#, finish: "length"))
            case .slow(let seconds):
                try await Task.sleep(for: .seconds(seconds))
                return json(Self.completion(Self.planJSON(modules: 1, tasks: 1, minutes: 30)))
            }
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}

/// Notion's OAuth token endpoint and page creation, as the public API answers them.
final class FakeNotion: @unchecked Sendable {
    let port: Int
    let clientID = "notion-client-id"
    let clientSecret = "notion-client-secret"
    let code = "notion-auth-code"
    let accessToken = "secret_notion_access_token_0123456789"
    private let lock = NSLock()
    private var _pages: [[String: Any]] = []

    init(port: Int) { self.port = port }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var pages: [[String: Any]] { lock.withLock { _pages } }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/oauth/token") { request, _ in
            let basic = "Basic " + Data("\(self.clientID):\(self.clientSecret)".utf8).base64EncodedString()
            guard request.headers[.authorization] == basic else { return json(["error": "invalid_client"], status: .unauthorized) }
            let body = try await object(request)
            guard body["grant_type"] as? String == "authorization_code", body["code"] as? String == self.code else {
                return json(["error": "invalid_grant"], status: .badRequest)
            }
            return json([
                "access_token": self.accessToken, "token_type": "bearer", "bot_id": "bot-1", "workspace_name": "Learner's workspace",
                "workspace_id": "ws-1", "owner": ["type": "workspace", "workspace": true],
            ])
        }
        router.post("/v1/pages") { request, _ in
            guard request.headers[.authorization] == "Bearer \(self.accessToken)" else {
                return json(["object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."], status: .unauthorized)
            }
            guard request.headers.contains(where: { $0.name.canonicalName == "notion-version" }) else {
                return json(["object": "error", "status": 400, "code": "missing_version", "message": "Notion-Version header failed validation"], status: .badRequest)
            }
            let body = try await object(request)
            let id = UUID().uuidString.lowercased()
            self.lock.withLock { self._pages.append(body.merging(["id": id]) { $1 }) }
            return json(["object": "page", "id": id, "url": "https://www.notion.so/\(id.replacingOccurrences(of: "-", with: ""))"])
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}

/// Google's OAuth token endpoint and the Calendar API's events, holding events in memory.
final class FakeGoogleCalendar: @unchecked Sendable {
    let port: Int
    let clientID = "google-client-id.apps.googleusercontent.com"
    let clientSecret = "google-client-secret"
    let code = "google-auth-code"
    private let lock = NSLock()
    private var _events: [String: [String: Any]] = [:]
    private var issued = 0
    private var _calls: [String] = []

    init(port: Int) { self.port = port }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var events: [String: [String: Any]] { lock.withLock { _events } }
    var calls: [String] { lock.withLock { _calls } }

    private func form(_ request: Request) async throws -> [String: String] {
        var request = request
        let body = String(buffer: try await request.collectBody(upTo: 1 << 16))
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    private func authorized(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ya29.fake-") else { return false }
        return true
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/token") { request, _ in
            let fields = try await self.form(request)
            guard fields["client_id"] == self.clientID, fields["client_secret"] == self.clientSecret else {
                return json(["error": "invalid_client"], status: .unauthorized)
            }
            let valid = (fields["grant_type"] == "authorization_code" && fields["code"] == self.code)
                || (fields["grant_type"] == "refresh_token" && fields["refresh_token"] == "1//fake-refresh")
            guard valid else { return json(["error": "invalid_grant", "error_description": "Bad Request"], status: .badRequest) }
            let token = self.lock.withLock {
                self.issued += 1
                return "ya29.fake-\(self.issued)"
            }
            var answer: [String: Any] = [
                "access_token": token, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/calendar.events", "token_type": "Bearer",
            ]
            if fields["grant_type"] == "authorization_code" { answer["refresh_token"] = "1//fake-refresh" }
            return json(answer)
        }
        router.post("/calendars/{calendar}/events") { request, context in
            guard self.authorized(request) else { return json(["error": ["code": 401, "message": "Invalid Credentials"]], status: .unauthorized) }
            var body = try await object(request)
            let id = "evt\(UUID().uuidString.prefix(12).lowercased())"
            body["id"] = id
            body["calendar"] = context.parameters.get("calendar") ?? ""
            self.lock.withLock {
                self._events[id] = body
                self._calls.append("insert")
            }
            return json(body)
        }
        router.put("/calendars/{calendar}/events/{event}") { request, context in
            guard self.authorized(request) else { return json(["error": ["code": 401, "message": "Invalid Credentials"]], status: .unauthorized) }
            let id = context.parameters.get("event") ?? ""
            var body = try await object(request)
            body["id"] = id
            let found = self.lock.withLock {
                self._calls.append("update")
                guard self._events[id] != nil else { return false }
                self._events[id] = body
                return true
            }
            return found ? json(body) : json(["error": ["code": 404, "message": "Not Found"]], status: .notFound)
        }
        router.delete("/calendars/{calendar}/events/{event}") { request, context in
            guard self.authorized(request) else { return json(["error": ["code": 401, "message": "Invalid Credentials"]], status: .unauthorized) }
            let id = context.parameters.get("event") ?? ""
            let found = self.lock.withLock {
                self._calls.append("delete")
                return self._events.removeValue(forKey: id) != nil
            }
            return found ? Response(status: .noContent) : json(["error": ["code": 410, "message": "Resource has been deleted"]], status: .gone)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}
