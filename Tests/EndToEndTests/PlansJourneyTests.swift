import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TestSupport

/// Learning plans through HTTP: a free learner creates a plan through the stream and watches it
/// complete.
extension EndToEndTests {
    struct PlansJourneyTests {}
}

extension EndToEndTests.PlansJourneyTests {
    @Test func aLearnerWatchesTheirPlanBeingGenerated() async throws {
        let processes = try ServiceProcesses(portBase: 10180)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try await runJourney({
            try processes.start()
            defer { processes.stop() }
            try await processes.waitUntilReady(api)
            let registered = try await api.send(.POST, processes.url("identity", "/v1/auth/register"),
                json: #"{"email":"planner.\#(UUID().uuidString.prefix(6).lowercased())@example.com","password":"a long password","name":"Planner"}"#)
            let token = try #require(registered.body["accessToken"] as? String)

            var request = HTTPClientRequest(url: processes.url("content", "/v1/plans/stream"))
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(token)")
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"topic":"Rust ownership","skillLevel":"beginner","weeklyHours":4,"learningStyle":"practice"}"#))
            let response = try await http.execute(request, timeout: .seconds(60))
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if text.contains("event: complete") || text.contains("event: error") { break }
            }
            let events = text.components(separatedBy: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            #expect(events.first == "plan_start")
            #expect(events.filter { $0 == "module_summary" }.count == 4, "\(text)")
            #expect(events.last == "complete")
            let plans = try await api.send(.GET, processes.url("content", "/v1/plans"), token: token)
            let plan = try #require((plans.body["plans"] as? [[String: Any]])?.first)
            #expect(plan["generationStatus"] as? String == "ready")

            // Completing tasks moves the plan's percentage (progress learns the plan from content's event).
            let planID = try #require(plan["id"] as? String)
            let detail = try await api.send(.GET, processes.url("content", "/v1/plans/\(planID)"), token: token)
            let tasks = ((detail.body["modules"] as? [[String: Any]]) ?? []).flatMap { ($0["tasks"] as? [[String: Any]]) ?? [] }.compactMap { $0["id"] as? String }
            #expect(tasks.count == 12)
            try await eventually(timeout: .seconds(10), "progress to know the plan") {
                try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(tasks[0])"), json: #"{"status":"completed"}"#, token: token).status == 200
            }
            let moved = try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(tasks[1])"), json: #"{"status":"in_progress"}"#, token: token)
            #expect(moved.body["status"] as? String == "in_progress")
            let summary = try await api.send(.GET, processes.url("progress", "/v1/progress/plans/\(planID)"), token: token).body
            #expect(summary["completedTasks"] as? Int == 1 && summary["inProgressTasks"] as? Int == 1 && summary["totalTasks"] as? Int == 12, "\(summary)")
            #expect((summary["percent"] as? Int ?? 0) > 0)
            #expect(try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(tasks[0])"), json: #"{"status":"done"}"#, token: token).status == 422)
            let other = try await api.send(.POST, processes.url("identity", "/v1/auth/register"),
                json: #"{"email":"other.\#(UUID().uuidString.prefix(6).lowercased())@example.com","password":"a long password","name":"Other"}"#)
            let otherToken = try #require(other.body["accessToken"] as? String)
            #expect(try await api.send(.PUT, processes.url("progress", "/v1/progress/tasks/\(tasks[0])"), json: #"{"status":"completed"}"#, token: otherToken).status == 404)
            #expect(try await api.send(.GET, processes.url("progress", "/v1/progress/plans/\(planID)"), token: otherToken).status == 404)
            #expect(try await api.send(.POST, processes.url("content", "/v1/plans"), json: #"{"topic":""}"#, token: token).status == 422)
            let noSuchDay = try await api.send(
                .POST, processes.url("content", "/v1/plans"),
                json: #"{"topic":"Dates","skillLevel":"beginner","weeklyHours":3,"learningStyle":"mixed","startDate":"2026-02-30"}"#, token: token)
            #expect((noSuchDay.body["errors"] as? [[String: Any]])?.first?["code"] as? String == "invalid_date")
            #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
        }, finish: http.shutdown)
    }
}
