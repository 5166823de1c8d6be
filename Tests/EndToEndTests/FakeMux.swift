import Foundation
import Hummingbird

/// Mux Video's HTTP API for the tests, in its real wire format (JSON, basic auth with a token id
/// and secret, answers under `data`), recording the direct uploads it was asked for.
final class FakeMux: @unchecked Sendable {
    let port: Int
    let tokenID = "mux-token-id"
    let tokenSecret = "mux-token-secret"
    private let lock = NSLock()
    private var _uploads: [[String: Any]] = []
    private var counter = 0

    init(port: Int) { self.port = port }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var uploads: [[String: Any]] { lock.withLock { _uploads } }

    private func json(_ object: [String: Any], status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))))
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/video/v1/uploads") { request, _ in
            let expected = "Basic " + Data("\(self.tokenID):\(self.tokenSecret)".utf8).base64EncodedString()
            guard request.headers[.authorization] == expected else {
                return self.json(["error": ["type": "unauthorized", "messages": ["Unauthorized request"]]], status: .unauthorized)
            }
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
            let id = self.lock.withLock {
                self.counter += 1
                self._uploads.append(object)
                return "upload-fake-\(self.counter)"
            }
            return self.json(
                ["data": ["id": id, "url": "https://storage.mux.test/upload/\(id)", "status": "waiting", "timeout": 3600,
                          "new_asset_settings": object["new_asset_settings"] ?? [:], "cors_origin": object["cors_origin"] ?? ""]],
                status: .created)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}
