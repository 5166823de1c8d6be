import Contracts
import Database
import Foundation
import ServiceKit

/// Lesson videos at Mux: direct uploads, and the asset webhooks that report their outcome.
extension CourseStore {
    /// Records that a lesson's video is being uploaded (a new upload replaces the old video once
    /// its asset is ready).
    public func recordUpload(_ uploadID: String, for lessonID: UUID) async throws {
        try await database.transaction { connection in
            let updated = try connection.execute(
                "UPDATE lessons SET mux_upload_id = \(uploadID), video_status = CASE WHEN video_status = 'ready' THEN 'ready' ELSE 'uploading' END, video_error = NULL, updated_at = now() WHERE id = \(lessonID)")
            guard updated.affectedRows == 1 else { throw DomainError.notFound("lesson") }
        }
    }

    public enum MuxOutcome: String, Sendable {
        case applied, duplicate, ignored
    }

    /// Handles one verified Mux webhook delivery, once per delivery id.
    public func handleMuxEvent(_ json: JSONValue, now: Date) async throws -> MuxOutcome {
        guard let id = json["id"].string, let type = json["type"].string, case .object = json["data"] else {
            throw DomainError.malformed("the body is not a Mux webhook event")
        }
        let data = json["data"]
        let announcing = announcing
        return try await database.transaction { connection in
            try Self.lockOutline(on: connection, announcing: announcing)
            let first = try connection.execute(
                "INSERT INTO mux_webhook_events (id, type) VALUES (\(id), \(type)) ON CONFLICT DO NOTHING").affectedRows == 1
            guard first else { return .duplicate }
            let outcome: MuxOutcome
            switch type {
            case "video.asset.ready": outcome = try Self.assetReady(data, on: connection)
            case "video.asset.errored": outcome = try Self.assetErrored(data, now: now, on: connection)
            default: outcome = .ignored
            }
            return outcome
        }
    }

    /// The lesson an asset belongs to: its `passthrough`, as the upload set it.
    static func lessonRow(for asset: JSONValue, on connection: PostgresConnection) throws -> Row? {
        guard let passthrough = asset["passthrough"].string, let lessonID = UUID(uuidString: passthrough) else { return nil }
        return try connection.query("SELECT id, title, video_version, mux_upload_id FROM lessons WHERE id = \(lessonID) FOR UPDATE").first
    }

    static func assetReady(_ asset: JSONValue, on connection: PostgresConnection) throws -> MuxOutcome {
        guard let row = try lessonRow(for: asset, on: connection), let assetID = asset["id"].string else { return .ignored }
        let playbackIDs = asset["playback_ids"].array ?? []
        let signed = playbackIDs.first { $0["policy"].string == "signed" } ?? playbackIDs.first
        guard let playbackID = signed?["id"].string else { return .ignored }
        // The asset of an older upload, finishing after a newer upload started, is not the video.
        if let upload = asset["upload_id"].string, let current = try row.decode("mux_upload_id", as: String?.self), upload != current {
            return .ignored
        }
        let duration = asset["duration"].double.flatMap { $0.isFinite && $0 >= 0 && $0 <= 86_400 ? Int($0.rounded()) : nil }
        let lessonID: UUID = try row.decode("id")
        let version = try row.decode("video_version", as: Int64.self) + 1
        try connection.execute(
            """
            UPDATE lessons SET video_status = 'ready', mux_asset_id = \(assetID), mux_playback_id = \(playbackID), video_error = NULL,
                duration_seconds = coalesce(\(duration), duration_seconds), video_version = \(version), updated_at = now()
            WHERE id = \(lessonID)
            """)
        try Outbox.enqueue(
            CloudEvent(
                ContentVideoReadyV1(
                    lessonId: lessonID.lowercased, lessonTitle: try row.decode("title"), assetId: assetID, playbackId: playbackID,
                    durationSeconds: duration ?? 0),
                sequence: version),
            on: connection)
        return .applied
    }

    static func assetErrored(_ asset: JSONValue, now: Date, on connection: PostgresConnection) throws -> MuxOutcome {
        guard let row = try lessonRow(for: asset, on: connection) else { return .ignored }
        let messages = (asset["errors"]["messages"].array ?? []).compactMap(\.string)
        let message = messages.isEmpty ? (asset["errors"]["type"].string ?? "Mux could not process the video") : messages.joined(separator: "; ")
        let lessonID: UUID = try row.decode("id")
        let version = try row.decode("video_version", as: Int64.self) + 1
        // A failed replacement leaves a ready video playable.
        try connection.execute(
            """
            UPDATE lessons SET video_status = CASE WHEN video_status = 'ready' THEN 'ready' ELSE 'errored' END,
                video_error = \(String(message.prefix(2000))), video_version = \(version), updated_at = now()
            WHERE id = \(lessonID)
            """)
        try Outbox.enqueue(
            CloudEvent(
                ContentVideoFailedV1(
                    lessonId: lessonID.lowercased, lessonTitle: try row.decode("title"), assetId: asset["id"].string, message: message, failedAt: now),
                sequence: version),
            on: connection)
        return .applied
    }
}
