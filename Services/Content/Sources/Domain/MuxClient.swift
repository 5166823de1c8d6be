import Foundation
import ServiceKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Mux Video's HTTP API, as far as content uses it: direct uploads whose asset gets a signed
/// playback policy and carries the lesson id as `passthrough`. The base URL is configurable
/// (tests point it at a local fake).
public struct MuxClient: Sendable {
    public var baseURL: String
    public var tokenID: String
    public var tokenSecret: String
    /// The origin browsers upload from (Mux checks CORS for direct uploads).
    public var corsOrigin: String

    public init(baseURL: String, tokenID: String, tokenSecret: String, corsOrigin: String) {
        self.baseURL = baseURL.withoutTrailingSlash
        self.tokenID = tokenID
        self.tokenSecret = tokenSecret
        self.corsOrigin = corsOrigin
    }

    public struct Failure: Error, CustomStringConvertible {
        public let status: Int
        public let message: String
        public var description: String { "Mux answered \(status): \(message)" }
    }

    public struct Upload: Sendable, Equatable {
        public var id: String
        /// Where the browser PUTs the file.
        public var url: String
    }

    public func createDirectUpload(passthrough: String) async throws -> Upload {
        guard let url = URL(string: "\(baseURL)/video/v1/uploads") else { throw Failure(status: 0, message: "bad URL \(baseURL)") }
        var request = URLRequest(url: url, timeoutInterval: 15)
        request.httpMethod = "POST"
        request.setValue("Basic \(Data("\(tokenID):\(tokenSecret)".utf8).base64EncodedString())", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let body: JSONValue = .object([
            "cors_origin": .string(corsOrigin),
            "new_asset_settings": .object([
                "playback_policy": .array([.string("signed")]),
                "passthrough": .string(passthrough),
            ]),
        ])
        request.httpBody = try JSONEncoder().encode(body)
        let answer: (status: Int, body: Data)
        do {
            answer = try await OutgoingHTTP.send(request)
        } catch {
            throw Failure(status: 0, message: "\(error)")
        }
        let json = (try? JSONValue(parsing: answer.body)) ?? .null
        guard (200..<300).contains(answer.status) else {
            throw Failure(status: answer.status, message: json["error"]["messages"][0].string ?? json["error"]["type"].string ?? "no message")
        }
        guard let id = json["data"]["id"].string, let uploadURL = json["data"]["url"].string else {
            throw Failure(status: answer.status, message: "no upload id or url")
        }
        return Upload(id: id, url: uploadURL)
    }
}
