import Foundation
import ServiceKit

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
        let body: JSONValue = .object([
            "cors_origin": .string(corsOrigin),
            "new_asset_settings": .object([
                "playback_policy": .array([.string("signed")]),
                "passthrough": .string(passthrough),
            ]),
        ])
        let answer: (status: Int, body: JSONValue)
        do {
            answer = try await OutgoingHTTP.sendJSON(
                OutgoingHTTP.request("POST", "\(baseURL)/video/v1/uploads", authorization: OutgoingHTTP.basic(tokenID, tokenSecret), body: .json(body)))
        } catch {
            throw Failure(status: 0, message: "\(error)")
        }
        let json = answer.body
        guard (200..<300).contains(answer.status) else {
            throw Failure(status: answer.status, message: json["error"]["messages"][0].string ?? json["error"]["type"].string ?? "no message")
        }
        guard let id = json["data"]["id"].string, let uploadURL = json["data"]["url"].string else {
            throw Failure(status: answer.status, message: "no upload id or url")
        }
        return Upload(id: id, url: uploadURL)
    }
}
