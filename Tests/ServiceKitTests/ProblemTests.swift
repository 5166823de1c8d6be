import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing

@Suite struct ProblemTests {
    struct Input: Decodable { var name: String }

    func app() -> some ApplicationProtocol {
        let router = ServiceRuntime.router(context: BasicRequestContext.self)
        router.post("/echo") { request, context -> String in
            try await request.decode(as: Input.self, context: context).name
        }
        router.get("/invalid") { _, _ -> String in
            throw Problem.validation([FieldError(field: "email", code: "invalid_email", message: "bad")])
        }
        router.get("/query") { request, _ -> String in
            request.uri.queryParameters.get("q") ?? ""
        }
        router.get("/database/:kind") { _, context -> String in
            let server = { (state: String) in ServerError(sqlState: SQLState(rawValue: state), message: "m", detail: nil, constraint: nil, table: nil) }
            switch context.parameters.get("kind") {
            case "lost": throw DatabaseError.connection("server closed the connection unexpectedly")
            case "read-only": throw DatabaseError.server(server("25006"))
            case "shutdown": throw DatabaseError.server(server("57P01"))
            case "timeout": throw DatabaseError.server(server("57014"))
            case "unique": throw DatabaseError.uniqueViolation(server("23505"))
            default: throw DatabaseError.server(server("42601"))
            }
        }
        router.get("/boom") { _, _ -> String in
            struct Secret: Error {}
            throw Secret()
        }
        return Application(router: router)
    }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as! [String: Any]
    }

    /// A failover's errors (a lost connection, a demoted primary, a shutting-down server) are a
    /// 503 the client may retry; any other database error stays a 500.
    @Test func anUnreachableDatabaseIsA503WithRetryAfter() async throws {
        try await app().test(.router) { client in
            for kind in ["lost", "read-only", "shutdown", "timeout"] {
                try await client.execute(uri: "/database/\(kind)", method: .get) { response in
                    #expect(response.status == .serviceUnavailable, "\(kind)")
                    #expect(response.headers[.retryAfter] == "2")
                    let body = try json(response.body)
                    #expect(body["code"] as? String == "unavailable")
                    #expect(!"\(body)".contains("server closed"), "the driver's message stays in the log")
                }
            }
            for kind in ["unique", "syntax"] {
                try await client.execute(uri: "/database/\(kind)", method: .get) { response in
                    #expect(response.status == .internalServerError, "\(kind)")
                }
            }
        }
    }

    @Test func validationProblemsListEachField() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/invalid", method: .get) { response in
                #expect(response.status == .unprocessableContent)
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try json(response.body)
                #expect(body["code"] as? String == "validation_failed")
                #expect(body["status"] as? Int == 422)
                let errors = try #require(body["errors"] as? [[String: String]])
                #expect(errors == [["field": "email", "code": "invalid_email", "message": "bad"]])
            }
        }
    }

    @Test func malformedJSONIsA400() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: "{not json")) { response in
                #expect(response.status == .badRequest)
                let body = try json(response.body)
                #expect(body["code"] as? String == "malformed_request")
            }
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: #"{"name": 3}"#)) { response in
                #expect(response.status == .badRequest)
                let body = try json(response.body)
                #expect(body["code"] as? String == "malformed_request")
                #expect((body["detail"] as? String)?.contains("name") == true, "the detail names the field")
            }
        }
    }

    @Test func textWithNULIsRefusedBeforeTheRoute() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: #"{"name":"a\u0000b"}"#)) { response in
                #expect(response.status == .badRequest)
                let body = try json(response.body)
                #expect(body["code"] as? String == "invalid_character")
            }
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: #"{"name":"\\u0000"}"#)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"\u0000"#)
            }
        }
    }

    @Test func aNULInTheQueryOrAHeaderIsRefusedNotCutShort() async throws {
        try await app().test(.router) { client in
            for uri in ["/query?q=a%00b", "/query?q=a%2500b%00", "/query%00?q=a"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    let body = try json(response.body)
                    #expect(body["code"] as? String == "invalid_character", "\(uri)")
                }
            }
            try await client.execute(uri: "/query?q=a%0Ab", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "a\nb")
            }
        }
    }

    @Test func unknownErrorsAreOpaque500s() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/boom", method: .get) { response in
                #expect(response.status == .internalServerError)
                let body = try json(response.body)
                #expect(body["code"] as? String == "internal_error")
                #expect(!(String(buffer: response.body).contains("Secret")))
            }
        }
    }

    @Test func unknownRoutesAreProblemJSON404s() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
        }
    }
}

@Suite struct WakeSignalTests {
    @Test func aSignalBeforeTheWaitIsNotLost() async {
        let signal = WakeSignal()
        signal.signal()
        let clock = ContinuousClock()
        let elapsed = await clock.measure { await signal.wait(timeout: .seconds(30)) }
        #expect(elapsed < .seconds(5))
    }

    @Test func aSignalWakesAWaiter() async {
        let signal = WakeSignal()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let elapsed = await ContinuousClock().measure { await signal.wait(timeout: .seconds(30)) }
                #expect(elapsed < .seconds(20), "woken by the signal, not the timeout")
            }
            group.addTask {
                // Signal repeatedly until the waiter has returned; the group ends when it does.
                for _ in 0..<3000 {
                    signal.signal()
                    try? await Task.sleep(for: .milliseconds(10))
                    if Task.isCancelled { return }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    @Test func waitingTimesOut() async {
        let signal = WakeSignal()
        await signal.wait(timeout: .milliseconds(10))
    }
}

@Suite struct NULRefusalTests {
    func refused(_ text: String) -> Bool { NULRefusalMiddleware<BasicRequestContext>.containsNUL(Array(text.utf8)) }

    @Test func escapedAndRawNULAreFound() {
        #expect(refused(#"{"title":"a\u0000b"}"#))
        #expect(refused(#"{"title":"\\\u0000"}"#))
        #expect(refused("{\"title\":\"a\u{0}\"}"))
    }

    @Test func escapedBackslashesBeforeTheTextAreNot() {
        #expect(!refused(#"{"title":"\\u0000"}"#))
        #expect(!refused(#"{"title":"\u00e9 \u0001 u0000"}"#))
        #expect(!refused(#"{"title":"\u000"}"#))
    }
}
