import AsyncHTTPClient
import Foundation
import LearningPlans
import MessageBus
import NIOCore
import ServiceKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import Testing
import TestSupport

/// Learning plans with their outside providers: an OpenAI-compatible generator that fails and is
/// retried, the schedule in the learner's time zone and its iCalendar feed, regeneration, and
/// exports to Notion and Google Calendar — all against local fakes over HTTP.
extension EndToEndTests {
    struct PlanProvidersJourneyTests {}
}

/// Serves every fake until cancelled.
private func serve(_ chat: FakeChatProvider, _ notion: FakeNotion, _ google: FakeGoogleCalendar) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await chat.application().runService() }
        group.addTask { try await notion.application().runService() }
        group.addTask { try await google.application().runService() }
        try await group.waitForAll()
    }
}

extension EndToEndTests.PlanProvidersJourneyTests {
    /// The generator itself against the fake: each way a provider fails has its classification.
    @Test func providerFailuresAreClassified() async throws {
        let chat = FakeChatProvider(port: 10294, script: [.status(429)])
        let request = PlanRequest(topic: "Go", skillLevel: .beginner, weeklyHours: 3, learningStyle: .mixed, notes: "evenings", startDate: nil, deadlineDate: nil)
        let generator = ChatCompletionsGenerator(.init(baseURL: chat.baseURL, apiKey: chat.apiKey, model: "fake-model", timeout: 1, promptCentsPerMillion: 1000, completionCentsPerMillion: 2000))
        try await runJourney(serving: { try await chat.application().runService() }, {
            try await eventually(timeout: .seconds(10), "the fake provider to listen") {
                (try? await OutgoingHTTP.send(URLRequest(url: URL(string: chat.baseURL + "/chat/completions")!))) != nil
            }
            func classification(_ step: FakeChatProvider.Step) async -> String? {
                chat.setScript([step])
                do {
                    _ = try await generator.generate(request)
                    return nil
                } catch let failure as GenerationFailure {
                    return failure.classification
                } catch {
                    return "\(error)"
                }
            }
            #expect(await classification(.status(429)) == "rate_limit")
            #expect(await classification(.status(503)) == "provider_error")
            #expect(await classification(.status(504)) == "timeout")
            let slow = await classification(.slow(seconds: 3))
            #expect(slow == "timeout", "\(String(describing: slow))")
            #expect(await classification(.content("Sure! Here is your plan: modules 1–3")) == "validation")
            #expect(await classification(.content(#"{"modules":[]}"#)) == "validation")
            #expect(await classification(.cutShort) == "capped")
            let wrongKey = ChatCompletionsGenerator(.init(baseURL: chat.baseURL, apiKey: "sk-wrong", model: "fake-model"))
            chat.setScript([.plan(modules: 1, tasks: 1, minutes: 30)])
            do {
                _ = try await wrongKey.generate(request)
                Issue.record("a refused key must fail")
            } catch let failure as GenerationFailure {
                #expect(failure.classification == "provider_error" && failure.message.contains("401"))
            }
            chat.setScript([.plan(modules: 3, tasks: 2, minutes: 45)])
            let (plan, usage) = try await generator.generate(request)
            #expect(plan.modules.count == 3 && plan.modules.allSatisfy { $0.tasks.count == 2 && $0.estimatedMinutes == 90 })
            #expect(usage.promptTokens == 1200 && usage.completionTokens == 3400)
            // 1200 × 10 + 3400 × 20 millicents (rounded up): 8 cents.
            #expect(usage.costCents == 8 && usage.provider == "openai-compatible" && usage.model == "fake-model")
            // What was asked: the model, a JSON answer, and the learner's request in the prompt.
            let asked = try #require(chat.requests.last)
            #expect(asked["model"] as? String == "fake-model")
            #expect((asked["response_format"] as? [String: Any])?["type"] as? String == "json_object")
            let prompt = ((asked["messages"] as? [[String: Any]]) ?? []).compactMap { $0["content"] as? String }.joined()
            #expect(prompt.contains("Topic: Go") && prompt.contains("evenings"))
        }, finish: {})
    }

    @Test func aPlanFromAProviderIsScheduledSubscribedRegeneratedAndExported() async throws {
        let chat = FakeChatProvider(port: 10291, script: [.status(500), .plan(modules: 3, tasks: 2, minutes: 45)])
        let notion = FakeNotion(port: 10292)
        let google = FakeGoogleCalendar(port: 10293)
        let processes = try ServiceProcesses(portBase: 10280)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        let bus = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        let tap = "e2e.plans.\(UUID().uuidString.prefix(8).lowercased())"
        try await bus.declareQueue(tap, durable: false)
        try await bus.bind(queue: tap, exchange: "content.events", routingKey: "content.plan.#")
        try await bus.bind(queue: tap, exchange: "progress.events", routingKey: "progress.task.#")
        try await bus.bind(queue: tap, exchange: "progress.events", routingKey: "progress.plan.#")
        let received = Received()
        func events(_ type: String) async throws -> [[String: Any]] {
            received.add(try await bus.drain(queue: tap, limit: 1000))
            return received.all.filter { $0.routingKey == type }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
        }
        func content(_ path: String) -> String { processes.url("content", path) }

        try await runJourney(serving: { try await serve(chat, notion, google) }, {
            try processes.start([
                "CONTENT_PLANS_PROVIDER_URL": chat.baseURL, "CONTENT_PLANS_PROVIDER_KEY": chat.apiKey, "CONTENT_PLANS_PROVIDER_MODEL": "fake-model",
                "CONTENT_PLANS_PROVIDER_TIMEOUT_SECONDS": "5", "CONTENT_PUBLIC_URL": content(""),
                "CONTENT_NOTION_API_URL": notion.baseURL, "CONTENT_NOTION_CLIENT_ID": notion.clientID, "CONTENT_NOTION_CLIENT_SECRET": notion.clientSecret,
                "CONTENT_GOOGLE_OAUTH_URL": google.baseURL, "CONTENT_GOOGLE_CALENDAR_URL": google.baseURL,
                "CONTENT_GOOGLE_CLIENT_ID": google.clientID, "CONTENT_GOOGLE_CLIENT_SECRET": google.clientSecret,
            ])
            defer { processes.stop() }
            try await processes.waitUntilReady(api)
            let registered = try await api.send(.POST, processes.url("identity", "/v1/auth/register"),
                json: #"{"email":"scheduler.\#(UUID().uuidString.prefix(6).lowercased())@example.com","password":"a long password","name":"Scheduler"}"#)
            let token = try #require(registered.body["accessToken"] as? String)
            #expect(try await api.send(.PATCH, processes.url("identity", "/v1/me"), json: #"{"timeZone":"America/New_York"}"#, token: token).status == 200)

            // The provider fails once (500): the job is retried after 2 s, and both attempts are recorded.
            let created = try await api.send(.POST, content("/v1/plans"),
                json: #"{"topic":"Kotlin coroutines","skillLevel":"intermediate","weeklyHours":3,"learningStyle":"reading","startDate":"2027-01-04"}"#, token: token)
            #expect(created.status == 201 && created.body["generationStatus"] as? String == "generating")
            let planID = try #require(created.body["id"] as? String)
            var plan: [String: Any] = [:]
            try await eventually(timeout: .seconds(20), "the plan to be generated on the second attempt") {
                plan = try await api.send(.GET, content("/v1/plans/\(planID)"), token: token).body
                return plan["generationStatus"] as? String == "ready"
            }
            let attempts = try #require(try await api.send(.GET, content("/v1/plans/\(planID)/attempts"), token: token).body["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["outcome"] as? String } == ["failure", "success"])
            #expect(attempts[0]["classification"] as? String == "provider_error" && attempts[0]["provider"] as? String == "openai-compatible")
            #expect(attempts[0]["model"] as? String == "fake-model" && attempts[1]["attempt"] as? Int == 2)
            #expect(chat.requests.count == 2)
            let modules = try #require(plan["modules"] as? [[String: Any]])
            let tasks = modules.flatMap { ($0["tasks"] as? [[String: Any]]) ?? [] }
            #expect(modules.count == 3 && tasks.count == 6)
            // The model's resources are checked: a non-web link is dropped, an unknown type is "other".
            #expect((tasks[0]["resources"] as? [[String: Any]])?.compactMap { $0["type"] as? String } == ["article", "other"])
            let taskIDs = tasks.compactMap { $0["id"] as? String }

            // The schedule: 3 hours a week of 45-minute tasks, evenings in New York, from the start date.
            var schedule: [String: Any] = [:]
            try await eventually(timeout: .seconds(10), "content to learn the learner's time zone") {
                schedule = try await api.send(.GET, content("/v1/plans/\(planID)/schedule"), token: token).body
                return schedule["timeZone"] as? String == "America/New_York"
            }
            let weeks = try #require(schedule["weeks"] as? [[String: Any]])
            #expect(weeks.map { ($0["tasks"] as? [[String: Any]])?.count } == [4, 2])
            #expect(schedule["fits"] as? Bool == true && schedule["maxWeeks"] as? Int == 2)
            let firstSession = try #require((weeks[0]["tasks"] as? [[String: Any]])?.first)
            #expect(firstSession["date"] as? String == "2027-01-04" && firstSession["startsAt"] as? String == "2027-01-04T23:00:00.000Z")

            // The feed: no bearer token, parsed by an independent iCalendar parser.
            let feed = try await api.send(.POST, content("/v1/plans/\(planID)/calendar-feed"), token: token)
            #expect(feed.status == 201)
            let feedURL = try #require(feed.body["url"] as? String)
            #expect(feedURL.hasPrefix(content("/v1/calendar-feeds/")) && feedURL.hasSuffix(".ics"))
            let (status, type, text) = try await fetch(feedURL, http)
            #expect(status == 200 && type?.hasPrefix("text/calendar") == true)
            let parsed = try await blocking {
                try run("/usr/bin/python3", ["-c", Self.icalendarCheck], input: Data(text.utf8), timeout: 60)
            }
            #expect(parsed.status == 0, "\(parsed.output)")
            #expect(parsed.output.contains("events=6") && parsed.output.contains("first=Task 1.1@2027-01-04 23:00:00+00:00"), "\(parsed.output)")
            let rotated = try #require(try await api.send(.POST, content("/v1/plans/\(planID)/calendar-feed"), token: token).body["url"] as? String)
            #expect(try await fetch(feedURL, http).status == 404, "a new feed URL revokes the old one")
            #expect(try await fetch(rotated, http).status == 200)
            #expect(try await api.send(.DELETE, content("/v1/plans/\(planID)/calendar-feed"), token: token).status == 204)
            #expect(try await fetch(rotated, http).status == 404)
            // Feed URLs are secrets: no log line holds their tokens.
            let feedTokens = [feedURL, rotated].map { String($0.split(separator: "/").last!.dropLast(4)) }
            #expect(processes.logsContaining(feedTokens).isEmpty, "no log line holds a calendar feed's token")

            // Progress on a task survives a regeneration that keeps it, and the plan's completion is announced once.
            try await eventually(timeout: .seconds(10), "progress to know the plan") {
                try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(taskIDs[0])"), json: #"{"status":"completed"}"#, token: token).status == 200
            }
            chat.setScript([.plan(modules: 2, tasks: 2, minutes: 50)])
            let regenerating = try await api.send(.POST, content("/v1/plans/\(planID)/regenerate"), json: #"{"weeklyHours":4}"#, token: token)
            #expect(regenerating.status == 202 && regenerating.body["weeklyHours"] as? Int == 4, "\(regenerating.body)")
            try await eventually(timeout: .seconds(10), "the plan to be regenerated") {
                try await api.send(.GET, content("/v1/plans/\(planID)"), token: token).body["generationStatus"] as? String == "ready"
            }
            let regenerated = try await api.send(.GET, content("/v1/plans/\(planID)"), token: token).body
            let newIDs = ((regenerated["modules"] as? [[String: Any]]) ?? []).flatMap { ($0["tasks"] as? [[String: Any]]) ?? [] }.compactMap { $0["id"] as? String }
            #expect(newIDs == [taskIDs[0], taskIDs[1], taskIDs[2], taskIDs[3]], "tasks with the same titles keep their ids")
            var summary: [String: Any] = [:]
            try await eventually(timeout: .seconds(10), "progress to apply the regenerated plan") {
                summary = try await api.send(.GET, processes.url("progress", "/v1/progress/plans/\(planID)"), token: token).body
                return summary["totalTasks"] as? Int == 4
            }
            #expect(summary["completedTasks"] as? Int == 1 && summary["percent"] as? Int == 25)
            #expect(try await events("content.plan.regenerated.v1").count == 1)
            for id in newIDs.dropFirst() {
                #expect(try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(id)"), json: #"{"status":"completed"}"#, token: token).status == 200)
            }
            #expect(try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(newIDs[1])"), json: #"{"status":"completed"}"#, token: token).status == 200)
            #expect(try await api.send(.GET, processes.url("progress", "/v1/progress/plans/\(planID)"), token: token).body["completed"] as? Bool == true)
            try await eventually(timeout: .seconds(10), "the task and plan events") {
                let changes = try await events("progress.task.status_changed.v1").count
                let completions = try await events("progress.plan.completed.v1").count
                return changes == 4 && completions == 1
            }
            let changed = try await events("progress.task.status_changed.v1").compactMap { $0["data"] as? [String: Any] }
            #expect(changed.map { $0["planPercent"] as? Int } == [16, 50, 75, 100], "\(changed)")
            #expect(changed.allSatisfy { $0["previousStatus"] as? String == "not_started" && $0["planId"] as? String == planID })

            // Notion: the app hands over the authorization code; the server exchanges it and seals the token.
            #expect(try await api.send(.POST, content("/v1/plans/\(planID)/exports/notion"), json: #"{"parentPageId":"0123456789abcdef0123456789abcdef"}"#, token: token)
                .body["code"] as? String == "integration_not_connected")
            let badCode = try await api.send(.POST, content("/v1/integrations/notion/connect"), json: #"{"code":"stolen","redirectUri":"https://app.example.com/cb"}"#, token: token)
            #expect(badCode.status == 422 && badCode.body["code"] as? String == "authorization_rejected")
            let connected = try await api.send(.POST, content("/v1/integrations/notion/connect"),
                json: #"{"code":"\#(notion.code)","redirectUri":"https://app.example.com/cb"}"#, token: token)
            #expect(connected.status == 200 && connected.body["account"] as? String == "Learner's workspace")
            let sealed = try await blocking {
                try run("/usr/bin/psql", [try TestEnvironment.value("ADMIN_DATABASE_URL"), "-Atc", "SELECT encode(access_token, 'escape') FROM content.integration_tokens"])
            }
            #expect(sealed.status == 0 && !sealed.output.isEmpty && !sealed.output.contains(notion.accessToken), "tokens are sealed at rest")
            let exported = try await api.send(.POST, content("/v1/plans/\(planID)/exports/notion"), json: #"{"parentPageId":"01234567-89ab-cdef-0123-456789abcdef"}"#, token: token)
            #expect(exported.status == 201 && exported.body["itemCount"] as? Int == 7, "\(exported.body)")
            #expect(notion.pages.count == 7)
            #expect((notion.pages[0]["parent"] as? [String: Any])?["page_id"] as? String == "0123456789abcdef0123456789abcdef")
            #expect((notion.pages[1]["parent"] as? [String: Any])?["page_id"] as? String == notion.pages[0]["id"] as? String)

            // Google Calendar: one event per scheduled task, updated in place, never duplicated.
            #expect(try await api.send(.POST, content("/v1/integrations/google-calendar/connect"),
                json: #"{"code":"\#(google.code)","redirectUri":"https://app.example.com/cb"}"#, token: token).status == 200)
            let synced = try await api.send(.POST, content("/v1/plans/\(planID)/exports/google-calendar"), token: token)
            #expect(synced.status == 200 && synced.body["created"] as? Int == 4, "\(synced.body)")
            #expect(google.events.count == 4)
            let again = try await api.send(.POST, content("/v1/plans/\(planID)/exports/google-calendar"), json: #"{"calendarId":"primary"}"#, token: token)
            #expect(again.body["created"] as? Int == 0 && again.body["updated"] as? Int == 0 && google.events.count == 4)
            let listed = try #require(try await api.send(.GET, content("/v1/integrations"), token: token).body["integrations"] as? [[String: Any]])
            #expect(listed.compactMap { $0["provider"] as? String } == ["google_calendar", "notion"])
            #expect(try await events("content.plan.exported.v1").compactMap { ($0["data"] as? [String: Any])?["destination"] as? String }
                == ["notion", "google_calendar", "google_calendar"])

            // The free tier's 10 exports a month: 3 used, 7 more pass, the 11th is refused.
            for _ in 0..<7 {
                #expect(try await api.send(.POST, content("/v1/plans/\(planID)/exports/google-calendar"), token: token).status == 200)
            }
            let refused = try await api.send(.POST, content("/v1/plans/\(planID)/exports/google-calendar"), token: token)
            #expect(refused.status == 403 && refused.body["code"] as? String == "quota_exceeded" && refused.body["limit"] as? Int == 10)

            // Regenerations: the free tier's 5 a month (1 used).
            for _ in 0..<4 {
                #expect(try await api.send(.POST, content("/v1/plans/\(planID)/regenerate"), token: token).status == 202)
                try await eventually(timeout: .seconds(10), "the regeneration") {
                    try await api.send(.GET, content("/v1/plans/\(planID)"), token: token).body["generationStatus"] as? String == "ready"
                }
            }
            let noMore = try await api.send(.POST, content("/v1/plans/\(planID)/regenerate"), token: token)
            #expect(noMore.status == 403 && noMore.body["code"] as? String == "quota_exceeded" && noMore.body["limit"] as? Int == 5)

            // The fourth concurrent active plan is refused; archiving one frees its slot.
            let body = #"{"topic":"More","skillLevel":"beginner","weeklyHours":2,"learningStyle":"video"}"#
            let answers = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<3 { group.addTask { try await api.send(.POST, content("/v1/plans"), json: body, token: token).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.sorted() == [201, 201, 403])
            let fourth = try await api.send(.POST, content("/v1/plans"), json: body, token: token)
            #expect(fourth.status == 403 && fourth.body["code"] as? String == "quota_exceeded" && fourth.body["limit"] as? Int == 3)
            #expect(try await api.send(.POST, content("/v1/plans/\(planID)/archive"), token: token).status == 200)
            let ninth = try await api.send(.POST, content("/v1/plans"), json: body, token: token)
            #expect(ninth.status == 201)

            // Creating and archiving in a loop stops at the free tier's 10 generations a month
            // (1 plan, 5 regenerations and 3 more plans so far): archiving gives none back.
            #expect(try await api.send(.POST, content("/v1/plans/\(try #require(ninth.body["id"] as? String))/archive"), token: token).status == 200)
            let tenth = try await api.send(.POST, content("/v1/plans"), json: body, token: token)
            #expect(tenth.status == 201)
            #expect(try await api.send(.POST, content("/v1/plans/\(try #require(tenth.body["id"] as? String))/archive"), token: token).status == 200)
            let churned = try await api.send(.POST, content("/v1/plans"), json: body, token: token)
            #expect(churned.status == 403 && churned.body["code"] as? String == "quota_exceeded" && churned.body["limit"] as? Int == 10, "\(churned.body)")
            #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
        }, finish: {
            try await http.shutdown()
            try await bus.deleteQueue(tap)
        })
    }

    static let icalendarCheck = """
        import sys, icalendar
        cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
        assert cal.get('VERSION') == '2.0', cal.get('VERSION')
        events = [c for c in cal.walk('VEVENT')]
        for e in events:
            assert e.get('UID') and e.get('DTSTAMP') and e.get('DTSTART') and e.get('DTEND'), e
            assert e.decoded('DTEND') > e.decoded('DTSTART')
        first = min(events, key=lambda e: e.decoded('DTSTART'))
        print('events=%d' % len(events))
        print('first=%s@%s' % (first.get('SUMMARY'), first.decoded('DTSTART')))
        """

    /// A plain GET, for the feed (text, not JSON).
    func fetch(_ url: String, _ http: HTTPClient) async throws -> (status: Int, contentType: String?, text: String) {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers.first(name: "content-type"), String(buffer: body))
    }
}
