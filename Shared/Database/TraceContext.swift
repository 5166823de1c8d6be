import Synchronization
import Tracing

/// W3C trace context (`traceparent`) between the tracer of the process and the places a context
/// is written down: outbox rows, queued mail, AMQP headers, outgoing requests.
///
/// Tracing is on when the process bootstraps a tracer (an OTLP endpoint is configured); until then
/// nothing here costs more than reading a flag.
public enum TraceContext {
    private static let recording = Atomic<Bool>(false)

    /// Whether spans are recorded.
    public static var isRecording: Bool { recording.load(ordering: .relaxed) }

    /// Called by the process's bootstrap once it has installed a tracer (and by a benchmark, to
    /// measure the same work with tracing and without).
    public static func setRecording(_ on: Bool) { recording.store(on, ordering: .relaxed) }

    /// The `traceparent` of the span `context` carries, if any.
    public static func traceparent(of context: ServiceContext) -> String? {
        guard isRecording else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// The `traceparent` of the span the current task is in, if any.
    public static var current: String? {
        guard isRecording, let context = ServiceContext.current else { return nil }
        return traceparent(of: context)
    }

    /// A context whose parent is the span `traceparent` names (a top-level one when it is nil or
    /// malformed).
    public static func context(traceparent: String?, tracestate: String? = nil) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard isRecording, let traceparent else { return context }
        var carrier = ["traceparent": traceparent]
        if let tracestate { carrier["tracestate"] = tracestate }
        InstrumentationSystem.instrument.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }

    /// The trace id of a `traceparent` (`00-<trace id>-<span id>-<flags>`).
    public static func traceID(of traceparent: String) -> Substring? {
        let parts = traceparent.split(separator: "-")
        return parts.count == 4 && parts[1].count == 32 ? parts[1] : nil
    }
}

public struct DictionaryInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

public struct DictionaryExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
