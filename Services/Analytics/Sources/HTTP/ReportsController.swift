import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/analytics/admin/…`: funnels, MRR over time, active learners and event counts, as JSON or
/// (with `format=csv`) as CSV.
struct ReportsController: Sendable {
    let reports: Reports

    func add(to routes: RouteGroups) {
        routes.admin.get("/v1/analytics/admin/funnel", use: funnel)
        routes.admin.get("/v1/analytics/admin/mrr", use: mrr)
        routes.admin.get("/v1/analytics/admin/active-learners", use: activeLearners)
        routes.admin.get("/v1/analytics/admin/counts", use: counts)
        routes.admin.get("/v1/analytics/admin/users/{id}/events", use: userEvents)
    }

    struct UserEvents: Encodable, Sendable {
        var userId: String
        var events: [Reports.Recorded]
    }

    /// One user's events in the order they happened (what a support question needs).
    @Sendable func userEvents(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<UserEvents> {
        let user = try context.uuid(of: "user")
        return JSONResponse(.ok, UserEvents(userId: user.lowercased, events: try await reports.events(of: user)))
    }

    static let maximumBuckets = 1000
    static let earliest = Date(timeIntervalSince1970: 946_684_800)  // 2000-01-01
    static let latest = Date(timeIntervalSince1970: 4_102_444_800)  // 2100-01-01

    /// `from`/`to` (RFC 3339 or a date; the last 30 days by default) and `interval`.
    static func window(_ request: Request, now: Date, errors: inout [FieldError]) -> Reports.Window {
        let parameters = request.uri.queryParameters
        func time(_ name: String) -> Date? {
            guard let text = parameters.get(name) else { return nil }
            if let parsed = RFC3339.parse(text) ?? RFC3339.parse("\(text)T00:00:00Z"), earliest...latest ~= parsed { return parsed }
            errors.append(FieldError(field: name, code: "invalid_time", message: "An RFC 3339 time or a date (2026-11-22), from 2000 to 2100."))
            return nil
        }
        let to = time("to") ?? now
        let from = time("from") ?? to.addingTimeInterval(-30 * 86400)
        let interval = parameters.get("interval").map { Reports.Interval(rawValue: $0) } ?? .day
        if interval == nil { errors.append(FieldError(field: "interval", code: "invalid_choice", message: "One of: day, week, month.")) }
        let window = Reports.Window(from: from, to: to, interval: interval ?? .day)
        if from >= to { errors.append(FieldError(field: "from", code: "invalid_range", message: "from must be before to.")) }
        let length: TimeInterval = ["day": 86400, "week": 7 * 86400, "month": 28 * 86400][window.interval.rawValue]!
        if to.timeIntervalSince(from) / length > Double(maximumBuckets) {
            errors.append(FieldError(field: "interval", code: "too_many_buckets", message: "At most \(maximumBuckets) buckets; use a longer interval."))
        }
        return window
    }

    static func csv(_ header: [String], _ rows: [[String]]) -> Response {
        func cell(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"\(text.replacingOccurrences(of: "\"", with: "\"\""))\"" : text
        }
        let body = ([header] + rows).map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
        return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func wantsCSV(_ request: Request, errors: inout [FieldError]) -> Bool {
        switch request.uri.queryParameters.get("format") {
        case nil, "json": return false
        case "csv": return true
        default:
            errors.append(FieldError(field: "format", code: "invalid_choice", message: "One of: json, csv."))
            return false
        }
    }

    struct FunnelAnswer: Encodable, Sendable {
        var from: Date
        var to: Date
        var steps: [Reports.FunnelStep]
    }

    @Sendable func funnel(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        var errors: [FieldError] = []
        let window = Self.window(request, now: Date(), errors: &errors)
        let csv = Self.wantsCSV(request, errors: &errors)
        let names = (request.uri.queryParameters.get("steps") ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        var steps: [ProductEvent] = []
        for name in names {
            if let step = ProductEvent(rawValue: name) { steps.append(step) } else {
                errors.append(FieldError(field: "steps", code: "unknown_event", message: "\(name) is not a tracked event."))
            }
        }
        if Set(names).count != names.count {
            errors.append(FieldError(field: "steps", code: "duplicate_step", message: "Each event once."))
        }
        if !(2...10).contains(names.count) {
            errors.append(FieldError(field: "steps", code: "invalid_steps", message: "2 to 10 events, comma-separated, in order."))
        }
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        let result = try await reports.funnel(steps, from: window.from, to: window.to)
        if csv {
            return Self.csv(
                ["step", "event", "users", "conversion_from_previous", "conversion_from_first"],
                result.enumerated().map { ["\($0.offset + 1)", $0.element.event, "\($0.element.users)", "\($0.element.conversionFromPrevious)", "\($0.element.conversionFromFirst)"] })
        }
        return try JSONResponse(.ok, FunnelAnswer(from: window.from, to: window.to, steps: result)).response(from: request, context: context)
    }

    struct Series<Point: Encodable & Sendable>: Encodable, Sendable {
        var from: Date
        var to: Date
        var interval: String
        var points: [Point]
    }

    /// A time series report: the window and format checked (plus `check`'s own parameters), the
    /// points computed, and answered as JSON or CSV.
    func series<Point: Encodable & Sendable>(
        _ request: Request, context: ServiceRequestContext, header: [String], row: (Point) -> [String],
        check: (inout [FieldError]) -> Void = { _ in }, compute: (Reports.Window) async throws -> [Point]
    ) async throws -> Response {
        var errors: [FieldError] = []
        let window = Self.window(request, now: Date(), errors: &errors)
        let csv = Self.wantsCSV(request, errors: &errors)
        check(&errors)
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        let points = try await compute(window)
        if csv { return Self.csv(header, points.map(row)) }
        return try JSONResponse(.ok, Series(from: window.from, to: window.to, interval: window.interval.rawValue, points: points))
            .response(from: request, context: context)
    }

    @Sendable func mrr(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        try await series(
            request, context: context, header: ["bucket", "at", "mrr", "active_subscriptions"],
            row: { [RFC3339.format($0.bucket), RFC3339.format($0.at), "\($0.mrr)", "\($0.activeSubscriptions)"] },
            compute: reports.mrr)
    }

    @Sendable func activeLearners(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        try await series(
            request, context: context, header: ["bucket", "active_learners"], row: { [RFC3339.format($0.bucket), "\($0.activeLearners)"] },
            compute: reports.activeLearners)
    }

    @Sendable func counts(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        var events = ProductEvent.allCases
        return try await series(
            request, context: context, header: ["bucket", "event", "count"], row: { [RFC3339.format($0.bucket), $0.event, "\($0.count)"] },
            check: { errors in
                guard let text = request.uri.queryParameters.get("events") else { return }
                events = []
                for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    if let event = ProductEvent(rawValue: name) { events.append(event) } else {
                        errors.append(FieldError(field: "events", code: "unknown_event", message: "\(name) is not a tracked event."))
                    }
                }
            },
            compute: { window in try await reports.counts(window, events: events) })
    }
}
