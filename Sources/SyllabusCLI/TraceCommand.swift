import ArgumentParser
import Foundation

/// Prints one trace from the spans the local OTLP receiver keeps (one JSON object per line, see
/// scripts/otlp-receiver.py), as an indented waterfall.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Print one trace as an indented waterfall, from the spans `make run` keeps locally.",
        discussion: """
            With a tracing backend configured (OTEL_EXPORTER_OTLP_ENDPOINT pointing at Jaeger, Tempo or \
            an OpenTelemetry Collector), look the trace up there instead.
            """)

    @Argument(help: "The trace id (32 hex digits), e.g. from a log line's trace_id.")
    var traceID: String?

    @Flag(help: "The latest trace: the one whose first span started last.")
    var last = false

    @Option(help: "The spans file (default: $SYLLABUS_TRACES_FILE, else .stack/traces/spans.jsonl).")
    var file: String?

    func validate() throws {
        guard (traceID != nil) != last else { throw ValidationError("Give a trace id or --last.") }
    }

    func run() throws {
        let path = file ?? ProcessInfo.processInfo.environment["SYLLABUS_TRACES_FILE"] ?? ".stack/traces/spans.jsonl"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("No spans at \(path): is the stack running with its trace receiver?")
        }
        let spans = RecordedSpan.parse(lines: data)
        let wanted: String
        if let traceID {
            wanted = traceID.lowercased()
        } else {
            guard let latest = RecordedSpan.latestTrace(in: spans) else { throw ValidationError("No spans in \(path) yet.") }
            wanted = latest
        }
        let trace = spans.filter { $0.traceID == wanted }
        guard !trace.isEmpty else { throw ValidationError("No spans of trace \(wanted) in \(path).") }
        print(RecordedSpan.waterfall(trace), terminator: "")
    }
}

/// A span as the receiver writes it down.
struct RecordedSpan: Sendable {
    var traceID: String
    var spanID: String
    var parentSpanID: String
    var name: String
    var kind: String
    var service: String
    var start: UInt64
    var end: UInt64
    var status: String
    var attributes: [String: String]

    static func parse(lines data: Data) -> [RecordedSpan] {
        data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let traceID = object["traceId"] as? String, let spanID = object["spanId"] as? String
            else { return nil }
            func number(_ key: String) -> UInt64 {
                if let value = object[key] as? NSNumber { return value.uint64Value }
                if let value = object[key] as? String { return UInt64(value) ?? 0 }
                return 0
            }
            let attributes = (object["attributes"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
            return RecordedSpan(
                traceID: traceID.lowercased(), spanID: spanID.lowercased(), parentSpanID: (object["parentSpanId"] as? String ?? "").lowercased(),
                name: object["name"] as? String ?? "", kind: object["kind"] as? String ?? "", service: object["service"] as? String ?? "",
                start: number("startTimeUnixNano"), end: number("endTimeUnixNano"), status: object["status"] as? String ?? "UNSET",
                attributes: attributes)
        }
    }

    /// The trace whose earliest span started last.
    static func latestTrace(in spans: [RecordedSpan]) -> String? {
        var first: [String: UInt64] = [:]
        for span in spans { first[span.traceID] = min(first[span.traceID] ?? .max, span.start) }
        return first.max { $0.value < $1.value }?.key
    }

    /// One line per span, under its parent, siblings by start time: offset from the trace's start,
    /// duration, service, kind, name and the attributes that say what happened.
    static func waterfall(_ spans: [RecordedSpan]) -> String {
        let origin = spans.map(\.start).min() ?? 0
        let finish = spans.map(\.end).max() ?? origin
        let ids = Set(spans.map(\.spanID))
        let children = Dictionary(grouping: spans, by: { ids.contains($0.parentSpanID) ? $0.parentSpanID : "" })
            .mapValues { $0.sorted { $0.start < $1.start } }
        let services = Set(spans.map(\.service)).sorted()
        var out = "trace \(spans[0].traceID): \(spans.count) spans, \(services.count) services (\(services.joined(separator: ", "))), "
            + "\(milliseconds(finish - origin)) ms\n"
        func walk(_ span: RecordedSpan, depth: Int) {
            let offset = milliseconds(span.start - origin).leftPadded(to: 9)
            let duration = milliseconds(span.end >= span.start ? span.end - span.start : 0).leftPadded(to: 9)
            var line = "\(offset) \(duration)  " + String(repeating: "  ", count: depth)
            line += "\(span.service) \(span.kind.lowercased()) \(span.name)"
            let notable = ["http.response.status_code", "messaging.destination.name", "syllabus.mail.outcome"]
            for key in notable { if let value = span.attributes[key] { line += "  \(key)=\(value)" } }
            if span.status == "ERROR" { line += "  ERROR" }
            if depth == 0, !span.parentSpanID.isEmpty { line += "  (parent \(span.parentSpanID), not recorded here)" }
            out += line + "\n"
            for child in children[span.spanID] ?? [] { walk(child, depth: depth + 1) }
        }
        out += "   +ms(start)   ms(took)\n"
        for root in children[""] ?? [] { walk(root, depth: 0) }
        return out
    }

    static func milliseconds(_ nanoseconds: UInt64) -> String {
        String(format: "%.1f", Double(nanoseconds) / 1_000_000)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
