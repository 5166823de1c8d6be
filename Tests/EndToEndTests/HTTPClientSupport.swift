import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport

/// JSON over HTTP for the end-to-end tests.
struct JSONClient {
    let client: HTTPClient
    /// The client's address as a gateway would pass it on (identity trusts it in these tests),
    /// so that each test's sign-in failures are throttled apart from other runs'.
    var forwardedFor = "10.\(UInt8.random(in: 0...255)).\(UInt8.random(in: 0...255)).\(UInt8.random(in: 1...254))"

    struct Answer {
        var status: Int
        var body: [String: Any]
        var headers: HTTPHeaders
        var contentType: String? { headers.first(name: "content-type") }
        var code: String? { body["code"] as? String }
    }

    func send(_ method: HTTPMethod, _ url: String, json: String? = nil, token: String? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        request.headers.add(name: "x-forwarded-for", value: forwardedFor)
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let body = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return Answer(status: Int(response.status.code), body: body, headers: response.headers)
    }
}

/// The mails in a mail directory, as text.
func mails(in directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".eml") }.map {
        try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)
    }
}

/// The first link in a mail's plain-text part that starts with `prefix`.
func link(in mail: String, startingWith prefix: String) -> String? {
    for line in mail.components(separatedBy: "\r\n") where line.hasPrefix(prefix) {
        return line.trimmingCharacters(in: .whitespaces)
    }
    return nil
}

func jsonString(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

/// Runs a journey with a fake provider's server alongside (`serve` runs until cancelled), then
/// `finish` — whether the journey passed or failed, so a failure is reported, not a crash.
func runJourney(serving serve: @escaping @Sendable () async throws -> Void, _ journey: () async throws -> Void, finish: () async throws -> Void) async throws {
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serve() }
            try await journey()
            group.cancelAll()
        }
    } catch {
        try? await finish()
        throw error
    }
    try await finish()
}

/// Runs a journey, then `finish` whether it passed or failed.
func runJourney(_ journey: () async throws -> Void, finish: () async throws -> Void) async throws {
    do {
        try await journey()
    } catch {
        try? await finish()
        throw error
    }
    try await finish()
}
