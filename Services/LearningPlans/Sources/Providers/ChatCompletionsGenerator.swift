import Foundation
import ServiceKit

/// A generator backed by an OpenAI-compatible chat-completions API (`POST {base}/chat/completions`):
/// it asks for a JSON object, then checks the answer as strictly as any outside input — its shape,
/// sizes, resource types and URLs — and clamps its efforts. Every failure is classified: 429 is
/// `rate_limit`, no answer in time (or 408/504) `timeout`, an answer cut at the token limit
/// `capped`, output that is not a usable plan `validation`, anything else `provider_error`.
public struct ChatCompletionsGenerator: PlanGenerator {
    public struct Configuration: Sendable {
        public var baseURL: String
        public var apiKey: String
        public var model: String
        public var timeout: TimeInterval
        /// Prices in cents per million tokens, for the cost recorded with each generation.
        public var promptCentsPerMillion: Int
        public var completionCentsPerMillion: Int
        public var maxTokens: Int

        public init(
            baseURL: String, apiKey: String, model: String, timeout: TimeInterval = 60, promptCentsPerMillion: Int = 0, completionCentsPerMillion: Int = 0,
            maxTokens: Int = 6000
        ) {
            self.baseURL = baseURL.withoutTrailingSlash
            self.apiKey = apiKey
            self.model = model
            self.timeout = timeout
            self.promptCentsPerMillion = promptCentsPerMillion
            self.completionCentsPerMillion = completionCentsPerMillion
            self.maxTokens = maxTokens
        }
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) { self.configuration = configuration }

    public var provider: String { "openai-compatible" }
    public var model: String { configuration.model }

    static let systemPrompt = """
        You design self-study learning plans. Answer with one JSON object and nothing else, shaped as:
        {"modules":[{"title":string,"description":string,"tasks":[{"title":string,"description":string,"estimatedMinutes":integer,
        "resources":[{"type":"youtube"|"article"|"course"|"doc"|"other","title":string,"url":string,"notes":string}]}]}]}
        Use 3 to 8 modules of 2 to 6 tasks, ordered from foundations to a final project. Tasks take 5 to 120 minutes.
        Resources are real, well-known https URLs.
        """

    static func userPrompt(_ request: PlanRequest) -> String {
        var lines = [
            "Topic: \(request.topic)", "Skill level: \(request.skillLevel.rawValue)", "Hours per week: \(request.weeklyHours)",
            "Learning style: \(request.learningStyle.rawValue)",
        ]
        if let start = request.startDate { lines.append("Starts: \(start)") }
        if let deadline = request.deadlineDate { lines.append("Deadline: \(deadline)") }
        if let notes = request.notes, !notes.isEmpty { lines.append("Learner's notes: \(notes)") }
        return lines.joined(separator: "\n")
    }

    public func generate(_ request: PlanRequest) async throws -> (GeneratedPlan, GenerationUsage) {
        let body: JSONValue = [
            "model": .string(configuration.model),
            "messages": [["role": "system", "content": .string(Self.systemPrompt)], ["role": "user", "content": .string(Self.userPrompt(request))]],
            "response_format": ["type": "json_object"],
            "temperature": .number(0.3),
            "max_tokens": .number(Double(configuration.maxTokens)),
        ]
        let status: Int, answer: JSONValue
        do {
            (status, answer) = try await OutgoingHTTP.sendJSON(
                OutgoingHTTP.request(
                    "POST", configuration.baseURL + "/chat/completions", authorization: "Bearer \(configuration.apiKey)", body: .json(body),
                    timeout: configuration.timeout))
        } catch let error as OutgoingHTTP.TransportError {
            throw error.timedOut
                ? GenerationFailure.timeout("no answer from the provider within \(Int(configuration.timeout)) s")
                : GenerationFailure.providerError("the provider could not be reached: \(error.message)")
        }
        switch status {
        case 200..<300: break
        case 429: throw GenerationFailure.rateLimit("the provider is rate-limiting requests (429)")
        case 408, 504: throw GenerationFailure.timeout("the provider timed out (\(status))")
        default: throw GenerationFailure.providerError("the provider answered \(status): \(String(describing: answer).prefix(300))")
        }
        let choice = answer["choices"][0]
        guard case .object = choice else { throw GenerationFailure.providerError("the provider's answer is not a chat completion") }
        let usage = GenerationUsage(
            provider: provider, model: model, promptTokens: max(0, Int(answer["usage"]["prompt_tokens"].int ?? 0)),
            completionTokens: max(0, Int(answer["usage"]["completion_tokens"].int ?? 0)), costCents: 0)
        if choice["finish_reason"].string == "length" { throw GenerationFailure.capped("the answer was cut at \(configuration.maxTokens) tokens") }
        let plan = try Self.plan(from: choice["message"]["content"].string ?? "")
        return (plan, priced(usage))
    }

    /// The cost in whole cents, rounded up: a generation is never recorded as free when it was not.
    func priced(_ usage: GenerationUsage) -> GenerationUsage {
        var usage = usage
        let microcents = usage.promptTokens * configuration.promptCentsPerMillion + usage.completionTokens * configuration.completionCentsPerMillion
        usage.costCents = (microcents + 999_999) / 1_000_000
        return usage
    }

    struct Output: Decodable {
        struct Resource: Decodable {
            var type: String?
            var title: String?
            var url: String?
            var notes: String?
        }
        struct Task: Decodable {
            var title: String
            var description: String?
            var estimatedMinutes: Int
            var resources: [Resource]?
        }
        struct Module: Decodable {
            var title: String
            var description: String?
            var tasks: [Task]
        }
        var modules: [Module]
    }

    /// The plan in the model's text, or a `validation` failure saying what is wrong with it.
    static func plan(from content: String) throws -> GeneratedPlan {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        // Some models wrap JSON in a Markdown code fence despite being asked not to.
        if text.hasPrefix("```") {
            text = text.drop { $0 != "\n" }.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasSuffix("```") { text = String(text.dropLast(3)) }
        }
        let output: Output
        do {
            output = try JSONDecoder().decode(Output.self, from: Data(text.utf8))
        } catch {
            throw GenerationFailure.validation("the model's answer is not a plan: \(String("\(error)".prefix(200)))")
        }
        let plan = GeneratedPlan(modules: output.modules.map { module in
            GeneratedPlan.Module(
                title: String(module.title.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)), description: String((module.description ?? "").prefix(2000)),
                estimatedMinutes: 0,
                tasks: module.tasks.map { task in
                    GeneratedPlan.Task(
                        title: String(task.title.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)), description: String((task.description ?? "").prefix(2000)),
                        estimatedMinutes: task.estimatedMinutes, resources: (task.resources ?? []).prefix(5).compactMap(resource))
                })
        })
        return try plan.validated()
    }

    static let resourceTypes: Set = ["youtube", "article", "course", "doc", "other"]

    /// A resource worth keeping: an http(s) link with a title; an unknown type becomes `other`.
    static func resource(_ resource: Output.Resource) -> GeneratedPlan.Resource? {
        guard let link = resource.url?.trimmingCharacters(in: .whitespaces), link.count <= 2000, let url = URL(string: link),
            ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false
        else { return nil }
        let title = (resource.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return GeneratedPlan.Resource(
            type: resourceTypes.contains(resource.type ?? "") ? resource.type! : "other", title: title.isEmpty ? link : String(title.prefix(200)),
            url: link, notes: resource.notes.map { String($0.prefix(500)) })
    }
}
