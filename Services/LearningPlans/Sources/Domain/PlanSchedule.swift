import Foundation

/// A plan's tasks laid out over weeks: each week holds the learner's weekly hours, the week's
/// tasks spread over its seven days in order, one study session a day in the learner's time
/// zone. Nothing goes past the deadline or the tier's maximum weeks: tasks that do not fit are
/// listed as unscheduled rather than crammed in.
public struct PlanSchedule: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        public var taskId: String
        public var moduleId: String
        public var title: String
        public var estimatedMinutes: Int
        /// The local day, YYYY-MM-DD.
        public var date: String
        public var startsAt: Date
        public var endsAt: Date
    }

    public struct Week: Codable, Sendable, Equatable {
        public var week: Int
        public var startDate: String
        public var endDate: String
        public var plannedMinutes: Int
        public var tasks: [Item]
    }

    public struct Unscheduled: Codable, Sendable, Equatable {
        public var taskId: String
        public var title: String
        public var estimatedMinutes: Int
    }

    public var planId: String
    public var timeZone: String
    public var weeklyHours: Int
    public var startDate: String
    public var deadlineDate: String?
    /// The weeks the schedule may use (the tier's maximum and the deadline's), or nil if unlimited.
    public var maxWeeks: Int?
    public var weeks: [Week]
    public var unscheduled: [Unscheduled]
    /// Whether every task fits.
    public var fits: Bool

    public struct Task: Sendable, Equatable {
        public var id: String
        public var moduleId: String
        public var title: String
        public var estimatedMinutes: Int

        public init(id: String, moduleId: String, title: String, estimatedMinutes: Int) {
            self.id = id
            self.moduleId = moduleId
            self.title = title
            self.estimatedMinutes = estimatedMinutes
        }
    }

    /// Lays out `tasks` (in plan order) from `startDate` (YYYY-MM-DD, in `timeZone`).
    public static func make(
        planId: String, tasks: [Task], weeklyHours: Int, startDate: String, deadlineDate: String?, tierMaxWeeks: Int?, timeZone zone: TimeZone
    ) -> PlanSchedule {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let start = day(startDate, in: calendar) ?? calendar.startOfDay(for: Date())
        let deadline = deadlineDate.flatMap { day($0, in: calendar) }
        var maxWeeks = tierMaxWeeks
        if let deadline {
            let days = (calendar.dateComponents([.day], from: start, to: deadline).day ?? 0) + 1
            let weeks = max(1, (days + 6) / 7)
            maxWeeks = min(maxWeeks ?? weeks, weeks)
        }
        let weeklyMinutes = max(60, weeklyHours * 60)
        // Evening sessions, unless the week is too full for evenings alone.
        let sessionHour = weeklyHours > 28 ? 9 : 18

        var weeks: [Week] = []
        var unscheduled: [Unscheduled] = []
        var week = 0, used = 0
        var dayMinutes: [Int: Int] = [:]
        for task in tasks {
            if used > 0, used + task.estimatedMinutes > weeklyMinutes {
                week += 1
                used = 0
                dayMinutes = [:]
            }
            let dayOfWeek = min(6, used * 7 / weeklyMinutes)
            let dayOffset = week * 7 + dayOfWeek
            guard let date = calendar.date(byAdding: .day, value: dayOffset, to: start),
                maxWeeks.map({ week < $0 }) ?? true, deadline.map({ date <= $0 }) ?? true
            else {
                unscheduled.append(Unscheduled(taskId: task.id, title: task.title, estimatedMinutes: task.estimatedMinutes))
                continue
            }
            used += task.estimatedMinutes
            let offset = dayMinutes[dayOfWeek, default: 0]
            dayMinutes[dayOfWeek] = offset + task.estimatedMinutes
            let session = calendar.date(bySettingHour: sessionHour, minute: 0, second: 0, of: date) ?? date
            let startsAt = session.addingTimeInterval(TimeInterval(offset * 60))
            let item = Item(
                taskId: task.id, moduleId: task.moduleId, title: task.title, estimatedMinutes: task.estimatedMinutes, date: format(date, in: calendar),
                startsAt: startsAt, endsAt: startsAt.addingTimeInterval(TimeInterval(task.estimatedMinutes * 60)))
            if weeks.last?.week != week + 1 {
                let weekStart = calendar.date(byAdding: .day, value: week * 7, to: start) ?? start
                let weekEnd = calendar.date(byAdding: .day, value: 6, to: weekStart) ?? weekStart
                weeks.append(Week(week: week + 1, startDate: format(weekStart, in: calendar), endDate: format(weekEnd, in: calendar), plannedMinutes: 0, tasks: []))
            }
            weeks[weeks.count - 1].tasks.append(item)
            weeks[weeks.count - 1].plannedMinutes += task.estimatedMinutes
        }
        return PlanSchedule(
            planId: planId, timeZone: zone.identifier, weeklyHours: weeklyHours, startDate: format(start, in: calendar), deadlineDate: deadlineDate,
            maxWeeks: maxWeeks, weeks: weeks, unscheduled: unscheduled, fits: unscheduled.isEmpty)
    }

    /// Midnight of a YYYY-MM-DD day in the calendar's time zone.
    static func day(_ text: String, in calendar: Calendar) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }

    static func format(_ date: Date, in calendar: Calendar) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// The schedule as an iCalendar feed (RFC 5545): one event per scheduled task, in UTC, with
    /// stable UIDs so calendar apps update events rather than duplicate them.
    public func iCalendar(name: String, stamp: Date) -> String {
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Syllabus//Learning plans//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:\(Self.text(name))", "X-WR-TIMEZONE:\(timeZone)",
        ]
        for week in weeks {
            for item in week.tasks {
                lines += [
                    "BEGIN:VEVENT", "UID:\(item.taskId)@syllabus", "DTSTAMP:\(Self.utc(stamp))", "DTSTART:\(Self.utc(item.startsAt))",
                    "DTEND:\(Self.utc(item.endsAt))", "SUMMARY:\(Self.text(item.title))",
                    "DESCRIPTION:\(Self.text("Week \(week.week) of your plan · \(item.estimatedMinutes) min"))", "TRANSP:OPAQUE", "END:VEVENT",
                ]
            }
        }
        lines.append("END:VCALENDAR")
        return lines.map(Self.fold).joined(separator: "\r\n") + "\r\n"
    }

    /// A date-time in UTC, form 2 of RFC 5545 §3.3.5: 20270104T180000Z.
    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func utc(_ date: Date) -> String {
        let p = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", p.year ?? 0, p.month ?? 0, p.day ?? 0, p.hour ?? 0, p.minute ?? 0, p.second ?? 0)
    }

    /// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newline escaped.
    static func text(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\n": out += "\\n"
            case "\r": break
            default: if scalar.value >= 0x20 || scalar == "\t" { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// A content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        var folded = "", count = 0
        for character in line {
            let size = String(character).utf8.count
            if count + size > 75 {
                folded += "\r\n "
                count = 1
            }
            folded.append(character)
            count += size
        }
        return folded
    }
}
