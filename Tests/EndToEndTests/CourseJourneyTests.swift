import AsyncHTTPClient
import Contracts
import Foundation
import JWTKit
import MessageBus
import NIOHTTP1
import Testing
import TestSupport

/// The gated course across services: content's outline and authoring, billing's entitlement from
/// a signed Stripe webhook, progress's completions unlocking the next module, and Mux video.
extension EndToEndTests {
    struct CourseJourneyTests {}
}

extension EndToEndTests.CourseJourneyTests {
    @Test func aLearnerWorksThroughTheGatedCourse() async throws {
        let journey = try await CourseJourney()
        let mux = journey.mux
        try await runJourney(serving: { try await mux.application().runService() }, journey.run, finish: journey.finish)
    }
}

/// The course journey's state and steps.
final class CourseJourney: @unchecked Sendable {
    let mux = FakeMux(port: 9899)
    let processes: ServiceProcesses
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let api: JSONClient
    let bus: AMQPAdmin
    let tap = "e2e.course.\(UUID().uuidString.prefix(8).lowercased())"
    let received = Received()

    init() async throws {
        processes = try ServiceProcesses(portBase: 9880)
        api = JSONClient(client: http)
        bus = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        try await bus.declareQueue(tap, durable: false)
        try await bus.bind(queue: tap, exchange: "progress.events", routingKey: "progress.#")
        try await bus.bind(queue: tap, exchange: "content.events", routingKey: "content.#")
    }

    func finish() async throws {
        try await http.shutdown()
        try await bus.deleteQueue(tap)
    }

    func content(_ path: String) -> String { processes.url("content", path) }
    func progress(_ path: String) -> String { processes.url("progress", path) }

    /// The events of `type` received so far whose data has `field` = `value`.
    func events(_ type: String, _ field: String, _ value: String) async throws -> [[String: Any]] {
        received.add(try await bus.drain(queue: tap, limit: 1000))
        return received.all.filter { $0.routingKey == type }.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any]
        }.compactMap { $0["data"] as? [String: Any] }.filter { $0[field] as? String == value }
    }

    func register(_ name: String) async throws -> (id: String, token: String) {
        let answer = try await api.send(.POST, processes.url("identity", "/v1/auth/register"),
            json: #"{"email":"\#(name).\#(UUID().uuidString.prefix(6).lowercased())@example.com","password":"a long password","name":"\#(name)"}"#)
        return (try #require((answer.body["user"] as? [String: Any])?["id"] as? String), try #require(answer.body["accessToken"] as? String))
    }

    func adminToken() async throws -> String {
        let email = "course.admin.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        #expect(try await processes.syllabus(["admin", "create", "--email", email, "--password", "admin password"]).status == 0)
        return try #require(try await api.send(.POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(email)","password":"admin password"}"#).body["accessToken"] as? String)
    }

    /// Each lesson of the learner's outline: (unlocked, lock reason).
    func locks(_ token: String) async throws -> [String: (Bool, String?)] {
        let course = try await api.send(.GET, content("/v1/course"), token: token)
        var locks: [String: (Bool, String?)] = [:]
        for module in course.body["modules"] as? [[String: Any]] ?? [] {
            for lesson in module["lessons"] as? [[String: Any]] ?? [] {
                locks[lesson["id"] as? String ?? ""] = (lesson["unlocked"] as? Bool ?? false, lesson["lockReason"] as? String)
            }
        }
        return locks
    }

    func lockReason(_ token: String, _ lesson: String) async throws -> String? {
        try await locks(token)[lesson]?.1
    }

    func create(_ path: String, _ json: String, _ token: String) async throws -> String {
        let answer = try await api.send(.POST, content(path), json: json, token: token)
        #expect(answer.status == 201, "\(path): \(answer.body)")
        return try #require(answer.body["id"] as? String).lowercased()
    }

    static let body = #"{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"Hello"}]}]}"#

    func run() async throws {
        let muxURL = mux.baseURL
        try processes.start(["CONTENT_MUX_API_URL": muxURL, "CONTENT_MUX_TOKEN_ID": mux.tokenID, "CONTENT_MUX_TOKEN_SECRET": mux.tokenSecret])
        defer { processes.stop() }
        try await processes.waitUntilReady(api)
        let admin = try await adminToken()
        let learner = try await register("learner")

        // The test owns the test stack's catalogue: start from an empty one.
        let existing = try await api.send(.GET, content("/v1/content/admin/modules"), token: admin)
        for module in existing.body["modules"] as? [[String: Any]] ?? [] {
            #expect(try await api.send(.DELETE, content("/v1/content/admin/modules/\(module["id"] as? String ?? "")"), token: admin).status == 204)
        }

        try await refusesBadAuthoring(admin: admin, learner: learner.token)

        // Two modules of two lessons; the first lesson is free.
        let m1 = try await create("/v1/content/admin/modules", #"{"title":"Module one"}"#, admin)
        let m2 = try await create("/v1/content/admin/modules", #"{"title":"Module two"}"#, admin)
        let l11 = try await create("/v1/content/admin/modules/\(m1)/lessons", #"{"title":"Free lesson","isFree":true,"body":\#(Self.body)}"#, admin)
        let l12 = try await create("/v1/content/admin/modules/\(m1)/lessons", #"{"title":"Lesson two","body":\#(Self.body)}"#, admin)
        let l21 = try await create("/v1/content/admin/modules/\(m2)/lessons", #"{"title":"Module two, lesson one"}"#, admin)
        let l22 = try await create("/v1/content/admin/modules/\(m2)/lessons", #"{"title":"Module two, lesson two"}"#, admin)
        #expect(try await api.send(.POST, content("/v1/content/admin/lessons/\(l11)/publish"), token: admin).code == "module_unpublished")
        for module in [m1, m2] { #expect(try await api.send(.POST, content("/v1/content/admin/modules/\(module)/publish"), token: admin).status == 200) }
        for lesson in [l11, l12, l21, l22] { #expect(try await api.send(.POST, content("/v1/content/admin/lessons/\(lesson)/publish"), token: admin).status == 200) }
        try await reordersAtomically(admin: admin, modules: [m1, m2])

        // Unpublished items are invisible to learners.
        let draft = try await create("/v1/content/admin/modules/\(m2)/lessons", #"{"title":"Draft"}"#, admin)
        #expect(try await api.send(.GET, content("/v1/lessons/\(draft)"), token: learner.token).status == 404)
        #expect(try await locks(learner.token)[draft] == nil)
        #expect(try await api.send(.DELETE, content("/v1/content/admin/lessons/\(draft)"), token: admin).status == 204)

        // The learner sees the outline, opens the free lesson, is refused lesson two.
        let locks = try await locks(learner.token)
        #expect(locks.count == 4)
        #expect(locks[l11]?.0 == true)
        #expect(locks[l12]?.1 == "subscription_required")
        #expect(locks[l21]?.1 == "subscription_required")
        let free = try await api.send(.GET, content("/v1/lessons/\(l11)"), token: learner.token)
        #expect(free.status == 200 && (free.body["body"] as? [String: Any])?["type"] as? String == "doc", "\(free.body)")
        #expect(try await api.send(.GET, content("/v1/lessons/\(l12)"), token: learner.token).code == "subscription_required")
        #expect(try await api.send(.GET, content("/v1/course")).status == 401)

        // Progress learns this outline from content's event (announced once the authoring above is
        // over; the stack may hold an earlier run's outline of the same size meanwhile).
        try await eventually(timeout: .seconds(10), "progress to hold the outline") {
            let summary = try await self.api.send(.GET, self.progress("/v1/progress"), token: learner.token).body
            let modules = (summary["modules"] as? [[String: Any]] ?? []).compactMap { $0["moduleId"] as? String }
            return summary["lessonsTotal"] as? Int == 4 && Set(modules) == [m1, m2]
        }
        #expect(try await api.send(.PUT, progress("/v1/progress/lessons/\(l12)"), token: learner.token).code == "subscription_required")

        // A signed Stripe webhook grants access, across billing → bus → content.
        try await subscribe(learner.id)
        try await eventually(timeout: .seconds(10), "content to open lesson two") { try await self.lockReason(learner.token, l12) == nil }
        #expect(try await api.send(.GET, content("/v1/lessons/\(l12)"), token: learner.token).status == 200)
        #expect(try await lockReason(learner.token, l21) == "module_locked")
        #expect(try await api.send(.GET, content("/v1/lessons/\(l21)"), token: learner.token).code == "module_locked")

        // Completing module one publishes one module-completed event; content unlocks module two.
        try await eventually(timeout: .seconds(10), "progress to see the access") {
            try await self.api.send(.POST, self.progress("/v1/progress/lessons/\(l12)/start"), token: learner.token).status == 200
        }
        #expect(try await api.send(.PUT, progress("/v1/progress/lessons/\(l21)"), token: learner.token).code == "module_locked")
        let first = try await api.send(.PUT, progress("/v1/progress/lessons/\(l11)"), token: learner.token)
        #expect(first.body["moduleCompleted"] as? Bool == false && first.body["lessonCompleted"] as? Bool == true, "\(first.body)")
        let last = try await api.send(.PUT, progress("/v1/progress/lessons/\(l12)"), token: learner.token)
        #expect(last.status == 200)
        #expect(last.body["moduleCompleted"] as? Bool == true)
        #expect(last.body["moduleId"] as? String == m1)
        #expect(last.body["nextModuleId"] as? String == m2)
        let again = try await api.send(.PUT, progress("/v1/progress/lessons/\(l12)"), token: learner.token)
        #expect(NSDictionary(dictionary: again.body) == NSDictionary(dictionary: last.body), "a second completion answers the same")
        try await eventually(timeout: .seconds(10), "content to unlock module two") { try await self.lockReason(learner.token, l21) == nil }
        #expect(try await api.send(.GET, content("/v1/lessons/\(l21)"), token: learner.token).status == 200)
        let completions = try await events("progress.module.completed.v1", "userId", learner.id)
        #expect(completions.count == 1 && completions.first?["firstTime"] as? Bool == true && completions.first?["nextModuleId"] as? String == m2)

        // Undoing a lesson reopens module one, and content locks module two again.
        let undone = try await api.send(.DELETE, progress("/v1/progress/lessons/\(l12)"), token: learner.token)
        #expect(undone.body["moduleCompleted"] as? Bool == false && undone.body["lessonCompleted"] as? Bool == false, "\(undone.body)")
        try await eventually(timeout: .seconds(10), "content to lock module two again") { try await self.lockReason(learner.token, l21) == "module_locked" }
        #expect(try await events("progress.module.reopened.v1", "userId", learner.id).count == 1)
        #expect(try await api.send(.PUT, progress("/v1/progress/lessons/\(l12)"), token: learner.token).body["moduleCompleted"] as? Bool == true)
        try await eventually(timeout: .seconds(10), "module two to open again") { try await self.lockReason(learner.token, l21) == nil }
        let recompleted = try await events("progress.module.completed.v1", "userId", learner.id)
        #expect(recompleted.count == 2 && recompleted.last?["firstTime"] as? Bool == false)

        // The summary shows what the learner expects.
        let summary = try await api.send(.GET, progress("/v1/progress"), token: learner.token).body
        #expect(summary["lessonsCompleted"] as? Int == 2 && summary["lessonsTotal"] as? Int == 4 && summary["percent"] as? Int == 50, "\(summary)")
        let modules = summary["modules"] as? [[String: Any]] ?? []
        #expect(modules.map { $0["lessonsCompleted"] as? Int } == [2, 0])
        #expect(modules.map { $0["percent"] as? Int } == [100, 0])
        #expect(modules.map { $0["completed"] as? Bool } == [true, false])
        #expect(modules.map { $0["unlocked"] as? Bool } == [true, true])
        #expect((summary["nextLesson"] as? [String: Any])?["lessonId"] as? String == l21)

        // A lesson published into a completed module reopens it.
        let late = try await create("/v1/content/admin/modules/\(m1)/lessons", #"{"title":"A late addition"}"#, admin)
        #expect(try await api.send(.POST, content("/v1/content/admin/lessons/\(late)/publish"), token: admin).status == 200)
        try await eventually(timeout: .seconds(10), "module one to reopen for the new lesson") {
            try await self.events("progress.module.reopened.v1", "userId", learner.id).count == 2
        }
        #expect(try await events("progress.module.reopened.v1", "userId", learner.id).last?["reason"] as? String == "outline_changed")
        try await eventually(timeout: .seconds(10), "content to lock module two") { try await self.lockReason(learner.token, l21) == "module_locked" }
        #expect(try await api.send(.DELETE, content("/v1/content/admin/lessons/\(late)"), token: admin).status == 204)
        try await eventually(timeout: .seconds(10), "module one to complete again without it") { try await self.lockReason(learner.token, l21) == nil }

        try await completesOnceUnderConcurrency(module: m1, lessons: [l11, l12], marker: l21)
        try await playsVideo(admin: admin, learner: learner.token, lesson: l11, locked: l22)
        #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
    }

    /// Bad authoring is refused with a clear problem, and nothing is half-written.
    func refusesBadAuthoring(admin: String, learner: String) async throws {
        #expect(try await api.send(.POST, content("/v1/content/admin/modules"), json: #"{"title":"Nope"}"#, token: learner).status == 403)
        #expect(try await api.send(.POST, content("/v1/content/admin/modules"), json: #"{"title":""}"#, token: admin).code == "validation_failed")
        let module = try await create("/v1/content/admin/modules", #"{"title":"Scratch"}"#, admin)
        let invalid = try await api.send(
            .POST, content("/v1/content/admin/modules/\(module)/lessons"),
            json: #"{"title":"Bad body","body":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"heading","attrs":{"level":9}}]}]}}"#, token: admin)
        #expect(invalid.status == 422 && invalid.code == "validation_failed")
        let errors = invalid.body["errors"] as? [[String: Any]] ?? []
        #expect(errors.first?["field"] as? String == "body/content/0/content/0" && errors.first?["code"] as? String == "misplaced_node", "\(errors)")
        #expect(try await api.send(.POST, content("/v1/content/admin/modules/\(UUID())/lessons"), json: #"{"title":"Orphan"}"#, token: admin).status == 404)
        #expect(try await api.send(.GET, content("/v1/content/admin/lessons/not-an-id"), token: admin).status == 404)
        #expect(try await api.send(.POST, content("/v1/content/admin/modules/\(module)/lessons"), json: #"{"title":"Far","order":5}"#, token: admin).code == "validation_failed")
        let lesson = try await create("/v1/content/admin/modules/\(module)/lessons", #"{"title":"Only"}"#, admin)
        let duplicate = try await api.send(.PUT, content("/v1/content/admin/modules/\(module)/lessons/order"), json: #"{"ids":["\#(lesson)","\#(lesson)"]}"#, token: admin)
        #expect((duplicate.body["errors"] as? [[String: Any]])?.first?["code"] as? String == "duplicate_order", "\(duplicate.body)")
        let asset = try await api.send(.POST, content("/v1/content/admin/lessons/\(lesson)/assets"), json: #"{"title":"Slides","url":"ftp://x","type":"pdf"}"#, token: admin)
        #expect(Set((asset.body["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }) == ["url", "type", "sizeBytes"])
        let after = try await api.send(.GET, content("/v1/content/admin/modules/\(module)"), token: admin).body
        #expect((after["lessons"] as? [[String: Any]])?.count == 1, "nothing half-written: \(after)")
        #expect(try await api.send(.DELETE, content("/v1/content/admin/modules/\(module)"), token: admin).status == 204)
    }

    /// Reordering moves every module at once; deleting closes the gap.
    func reordersAtomically(admin: String, modules: [String]) async throws {
        let extra = try await create("/v1/content/admin/modules", #"{"title":"Inserted first","order":1}"#, admin)
        var order = try await api.send(.GET, content("/v1/content/admin/modules"), token: admin).body["modules"] as? [[String: Any]] ?? []
        #expect(order.compactMap { ($0["id"] as? String)?.lowercased() } == [extra] + modules)
        let reordered = try await api.send(
            .PUT, content("/v1/content/admin/modules/order"), json: #"{"ids":["\#(modules[0])","\#(extra)","\#(modules[1])"]}"#, token: admin)
        #expect(reordered.status == 200, "\(reordered.body)")
        #expect(try await api.send(.DELETE, content("/v1/content/admin/modules/\(extra)"), token: admin).status == 204)
        order = try await api.send(.GET, content("/v1/content/admin/modules"), token: admin).body["modules"] as? [[String: Any]] ?? []
        #expect(order.compactMap { ($0["id"] as? String)?.lowercased() } == modules)
        #expect(order.compactMap { $0["order"] as? Int } == [1, 2])
    }

    func subscribe(_ user: String) async throws {
        let secret = try TestEnvironment.value("BILLING_STRIPE_WEBHOOK_SECRET")
        let now = Int64(Date().timeIntervalSince1970)
        let subscription = EndToEndTests.BillingJourneyTests.subscription(
            "sub_\(user.suffix(12))", customer: "cus_\(user.suffix(12))", status: "active", price: "price_pro_monthly", user: user, start: now)
        let body = EndToEndTests.BillingJourneyTests.event("customer.subscription.created", created: now, object: subscription)
        let answer = try await api.send(
            .POST, processes.url("billing", "/v1/billing/webhooks/stripe"), json: body,
            headers: [("stripe-signature", EndToEndTests.BillingJourneyTests.sign(body, secret: secret))])
        #expect(answer.status == 200, "\(answer.body)")
    }

    /// Two requests completing a module's last two lessons at the same moment: one event.
    func completesOnceUnderConcurrency(module: String, lessons: [String], marker: String) async throws {
        let learner = try await register("racer")
        try await subscribe(learner.id)
        try await eventually(timeout: .seconds(10), "progress to see the racer's access") {
            try await self.api.send(.POST, self.progress("/v1/progress/lessons/\(lessons[1])/start"), token: learner.token).status == 200
        }
        let api = self.api
        let progress = self.progress
        let answers = try await withThrowingTaskGroup(of: (status: Int, moduleCompleted: Bool?).self) { group in
            for lesson in lessons {
                group.addTask {
                    let answer = try await api.send(.PUT, progress("/v1/progress/lessons/\(lesson)"), token: learner.token)
                    return (answer.status, answer.body["moduleCompleted"] as? Bool)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.status == 200 })
        // Applied one after the other: the second to finish saw the module complete.
        #expect(answers.compactMap(\.moduleCompleted).sorted { !$0 && $1 } == [false, true])
        // A start published after both completions marks the end of what they published.
        #expect(try await api.send(.POST, progress("/v1/progress/lessons/\(marker)/start"), token: learner.token).status == 200)
        try await eventually(timeout: .seconds(10), "the marker event") {
            try await self.events("progress.lesson.started.v1", "lessonId", marker).contains { $0["userId"] as? String == learner.id }
        }
        let completed = try await events("progress.module.completed.v1", "userId", learner.id)
        #expect(completed.count == 1, "exactly one module.completed for two concurrent completions: \(completed)")
        #expect(completed.first?["moduleId"] as? String == module)
        #expect(try await events("progress.lesson.completed.v1", "userId", learner.id).count == 2)
    }

    struct MuxClaims: JWTPayload {
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
    }

    /// A direct upload through Mux's API, its signed webhook, and signed playback.
    func playsVideo(admin: String, learner: String, lesson: String, locked: String) async throws {
        let upload = try await api.send(.POST, content("/v1/content/admin/lessons/\(lesson)/video-upload"), token: admin)
        #expect(upload.status == 201 && (upload.body["url"] as? String)?.hasPrefix("https://storage.mux.test/") == true, "\(upload.body)")
        let settings = mux.uploads.last?["new_asset_settings"] as? [String: Any]
        #expect(settings?["passthrough"] as? String == lesson && settings?["playback_policy"] as? [String] == ["signed"])
        #expect(try await api.send(.POST, content("/v1/content/admin/lessons/\(lesson)/video-upload"), token: learner).status == 403)
        #expect(try await api.send(.GET, content("/v1/lessons/\(lesson)/playback"), token: learner).code == "video_not_ready")

        let secret = try TestEnvironment.value("CONTENT_MUX_WEBHOOK_SECRET")
        let ready = #"{"type":"video.asset.ready","id":"\#(UUID())","object":{"type":"asset","id":"asset-1"},"data":{"id":"asset-1","status":"ready","duration":123.6,"passthrough":"\#(lesson)","playback_ids":[{"id":"playback-1","policy":"signed"}],"upload_id":"\#(upload.body["uploadId"] as? String ?? "")"}}"#
        func deliver(_ body: String, signature: String? = nil) async throws -> JSONClient.Answer {
            try await api.send(
                .POST, content("/v1/content/webhooks/mux"), json: body,
                headers: [("mux-signature", signature ?? EndToEndTests.BillingJourneyTests.sign(body, secret: secret))])
        }
        #expect(try await deliver(ready, signature: EndToEndTests.BillingJourneyTests.sign(ready, secret: "wrong")).code == "signature_invalid")
        #expect(try await deliver(ready, signature: "").code == "signature_missing")
        #expect(try await deliver(ready).body["outcome"] as? String == "applied")
        #expect(try await deliver(ready).body["outcome"] as? String == "duplicate")
        try await eventually(timeout: .seconds(10), "content.video.ready.v1") { try await !self.events("content.video.ready.v1", "lessonId", lesson).isEmpty }

        let grant = try await api.send(.GET, content("/v1/lessons/\(lesson)/playback"), token: learner)
        #expect(grant.status == 200 && grant.headers.first(name: "cache-control") == "no-store", "\(grant.body)")
        let token = try #require(grant.body["token"] as? String)
        #expect((grant.body["streamUrl"] as? String) == "https://stream.mux.com/playback-1.m3u8?token=\(token)")
        let headerData = try #require(Self.base64URL(String(token.split(separator: ".")[0])))
        let header = try #require(try JSONSerialization.jsonObject(with: headerData) as? [String: Any])
        let keyID = try TestEnvironment.value("CONTENT_MUX_SIGNING_KEY_ID")
        #expect(header["alg"] as? String == "RS256" && header["kid"] as? String == keyID)
        let pem = String(decoding: try #require(Data(base64Encoded: try TestEnvironment.value("CONTENT_MUX_SIGNING_KEY"))), as: UTF8.self)
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: pem).publicKey, digestAlgorithm: .sha256)
        let claims = try await keys.verify(token, as: MuxClaims.self)
        #expect(claims.sub.value == "playback-1" && claims.aud.value == ["v"])
        #expect(abs(claims.exp.value.timeIntervalSinceNow - 3600) < 120)
        let thumbnail = try await keys.verify(try #require(grant.body["thumbnailToken"] as? String), as: MuxClaims.self)
        #expect(thumbnail.aud.value == ["t"])
        #expect(try await api.send(.GET, content("/v1/lessons/\(locked)/playback"), token: try await register("visitor").token).code == "subscription_required")

        // Mux could not process a replacement: admins are told, the ready video still plays.
        let errored = #"{"type":"video.asset.errored","id":"\#(UUID())","data":{"id":"asset-2","status":"errored","passthrough":"\#(lesson)","errors":{"type":"invalid_input","messages":["The file is not a video"]}}}"#
        #expect(try await deliver(errored).body["outcome"] as? String == "applied")
        try await eventually(timeout: .seconds(10), "content.video.failed.v1") {
            try await self.events("content.video.failed.v1", "lessonId", lesson).first?["message"] as? String == "The file is not a video"
        }
        #expect(try await api.send(.GET, content("/v1/lessons/\(lesson)/playback"), token: learner).status == 200)
    }

    static func base64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
