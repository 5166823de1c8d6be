import Contracts
import Database
import Foundation
import ServiceKit

/// A small published course for a new stack, so there is something to open at once: three
/// modules, a free first lesson, TipTap bodies. Seeded only into an empty catalogue.
public enum DemoCourse {
    struct Lesson {
        var title: String
        var minutes: Int
        var paragraphs: [String]
        var points: [String] = []
    }

    struct Module {
        var title: String
        var description: String
        var lessons: [Lesson]
    }

    static let modules: [Module] = [
        Module(
            title: "Getting started", description: "What the course covers and how to get the most out of it.",
            lessons: [
                Lesson(
                    title: "Welcome to the course", minutes: 4,
                    paragraphs: ["This first lesson is free: watch it, then decide whether the rest is for you.",
                                 "Each module unlocks when you complete the one before it."],
                    points: ["Short videos, one idea each", "Notes and downloads under every lesson", "Mark a lesson complete when you are done"]),
                Lesson(title: "How to study", minutes: 7, paragraphs: ["Little and often beats long and rare. Plan twenty minutes a day."]),
            ]),
        Module(
            title: "Foundations", description: "The core ideas everything else builds on.",
            lessons: [
                Lesson(title: "First principles", minutes: 12, paragraphs: ["Start from what you know for sure, and build one step at a time."]),
                Lesson(title: "Common mistakes", minutes: 9, paragraphs: ["Most mistakes come from skipping a step. Here are the usual ones."],
                       points: ["Rushing the basics", "Practising without feedback", "Never reviewing"]),
            ]),
        Module(
            title: "Putting it together", description: "Apply what you learnt to a project of your own.",
            lessons: [
                Lesson(title: "Your first project", minutes: 15, paragraphs: ["Pick something small you can finish in a week."]),
                Lesson(title: "Where to go next", minutes: 6, paragraphs: ["You have the foundations. Here is how to keep going."]),
            ]),
    ]

    static func body(_ lesson: Lesson) -> JSONValue {
        func text(_ value: String, marks: [String] = []) -> JSONValue {
            var node: [String: JSONValue] = ["type": .string("text"), "text": .string(value)]
            if !marks.isEmpty { node["marks"] = .array(marks.map { .object(["type": .string($0)]) }) }
            return .object(node)
        }
        var content: [JSONValue] = [
            .object(["type": .string("heading"), "attrs": .object(["level": .number(2)]), "content": .array([text(lesson.title)])])
        ]
        content += lesson.paragraphs.map { .object(["type": .string("paragraph"), "content": .array([text($0)])]) }
        if !lesson.points.isEmpty {
            content.append(.object([
                "type": .string("bulletList"),
                "content": .array(lesson.points.map { point in
                    .object(["type": .string("listItem"), "content": .array([.object(["type": .string("paragraph"), "content": .array([text(point, marks: ["bold"])])])])])
                }),
            ]))
        }
        return .object(["type": .string("doc"), "content": .array(content)])
    }

    /// Seeds the course if there are no modules yet; returns whether it did.
    @discardableResult
    public static func seedIfEmpty(_ store: CourseStore) async throws -> Bool {
        try await store.authoring { connection in
            guard try connection.query("SELECT 1 FROM modules LIMIT 1").isEmpty else { return false }
            for (moduleIndex, module) in modules.enumerated() {
                let moduleID = UUIDv7.make()
                try connection.execute(
                    """
                    INSERT INTO modules (id, title, description, position, published)
                    VALUES (\(moduleID), \(module.title), \(module.description), \(moduleIndex + 1), true)
                    """)
                for (lessonIndex, lesson) in module.lessons.enumerated() {
                    try connection.execute(
                        """
                        INSERT INTO lessons (id, module_id, title, position, published, is_free, body, duration_seconds)
                        VALUES (\(UUIDv7.make()), \(moduleID), \(lesson.title), \(lessonIndex + 1), true, \(moduleIndex == 0 && lessonIndex == 0),
                            \(try JSONB(encoding: body(lesson))), \(lesson.minutes * 60))
                        """)
                }
            }
            return true
        }
    }
}
