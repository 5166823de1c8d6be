import Contracts
import CourseRules
import Foundation

/// The published outline as JSON fragments, rendered once per revision, so that a learner's
/// `/v1/course` is assembled by appending bytes: only what depends on the learner (`unlocked`,
/// `completed`, `lockReason`, `hasAccess`, `tier`) is written per request. The bytes are those
/// `JSONResponse` writes for `CourseStore.LearnerCourse` (sorted keys, absent optionals left out,
/// strings escaped by the same encoder).
struct RenderedOutline: Sendable {
    struct Lesson: Sendable {
        let lesson: OutlineLesson
        /// `{"durationSeconds":…,"hasVideo":…,"id":…,"isFree":…,`
        let head: [UInt8]
        /// `"order":…,"title":…,`
        let tail: [UInt8]
    }

    struct Module: Sendable {
        let outline: OutlineModule
        /// `"description":…,"id":…,`
        let head: [UInt8]
        /// `"order":…,"title":…,`
        let tail: [UInt8]
        let lessons: [Lesson]
    }

    let modules: [Module]

    init(_ published: [CourseStore.PublishedModule]) {
        modules = published.map { module in
            Module(
                outline: module.outline,
                head: Array("\"description\":\(Self.string(module.description)),\"id\":\(Self.string(module.outline.id)),".utf8),
                tail: Array("\"order\":\(module.outline.order),\"title\":\(Self.string(module.outline.title)),".utf8),
                lessons: module.outline.lessons.map { lesson in
                    let duration = lesson.durationSeconds.map { "\"durationSeconds\":\($0)," } ?? ""
                    return Lesson(
                        lesson: lesson,
                        head: Array(
                            "{\(duration)\"hasVideo\":\(module.readyVideos.contains(lesson.id)),\"id\":\(Self.string(lesson.id)),\"isFree\":\(lesson.isFree),".utf8),
                        tail: Array("\"order\":\(lesson.order),\"title\":\(Self.string(lesson.title)),".utf8))
                })
        }
    }

    /// The learner's course, as `JSONResponse` would encode `CourseStore.course(for:)`.
    func json(for gate: CourseStore.Gate) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + modules.reduce(0) { $0 + 128 + $1.lessons.count * 192 })
        out += Array("{\"hasAccess\":\(gate.entitlement.hasAccess),\"modules\":[".utf8)
        for (index, module) in modules.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += Array("{\"completed\":\(gate.completed.contains(module.outline.id)),".utf8)
            out += module.head
            out += Array("\"lessons\":[".utf8)
            for (position, lesson) in module.lessons.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                out += lesson.head
                let lock = gate.lock(lesson.lesson, in: module.outline)
                if let lock { out += Array("\"lockReason\":\(Self.plain(lock.rawValue)),".utf8) }
                out += lesson.tail
                out += Array("\"unlocked\":\(lock == nil)}".utf8)
            }
            out += Array("],".utf8)
            out += module.tail
            out += Array("\"unlocked\":\(gate.unlocked.contains(module.outline.id))}".utf8)
        }
        out += Array("],\"tier\":\(Self.plain(gate.entitlement.tier))}".utf8)
        return out
    }

    /// A short string quoted directly when nothing in it needs escaping (a code, a tier), else as
    /// the encoder writes it.
    static func plain(_ text: String) -> String {
        text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) }
            ? "\"\(text)\"" : string(text)
    }

    /// A JSON string as the responses' encoder writes it.
    static func string(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
