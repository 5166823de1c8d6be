import Foundation
import Testing

@testable import LearningPlans

/// The schedule's arithmetic, its iCalendar text, the checks on a model's output, and the token
/// vault: pure functions, no servers.
struct PlanScheduleTests {
    static func tasks(_ minutes: [Int]) -> [PlanSchedule.Task] {
        minutes.enumerated().map { PlanSchedule.Task(id: "task-\($0.offset + 1)", moduleId: "module-1", title: "Task \($0.offset + 1)", estimatedMinutes: $0.element) }
    }

    static let london = TimeZone(identifier: "Europe/London")!

    @Test func tasksFillEachWeekByTheWeeklyHours() {
        // 3 hours a week: 60+60+60 fill week 1; the fourth task starts week 2.
        let schedule = PlanSchedule.make(
            planId: "p", tasks: Self.tasks([60, 60, 60, 90, 90]), weeklyHours: 3, startDate: "2027-01-04", deadlineDate: nil, tierMaxWeeks: nil, timeZone: Self.london)
        #expect(schedule.weeks.map(\.week) == [1, 2])
        #expect(schedule.weeks.map(\.plannedMinutes) == [180, 180])
        #expect(schedule.weeks[0].startDate == "2027-01-04" && schedule.weeks[0].endDate == "2027-01-10")
        // Spread over the week in order: 0, 60 and 120 of 180 minutes fall on days 0, 2 and 4.
        #expect(schedule.weeks[0].tasks.map(\.date) == ["2027-01-04", "2027-01-06", "2027-01-08"])
        #expect(schedule.weeks[1].tasks.map(\.date) == ["2027-01-11", "2027-01-14"])
        #expect(schedule.fits && schedule.unscheduled.isEmpty)
    }

    @Test func sessionsAreEveningsInTheLearnersTimeZoneAcrossDaylightSaving() {
        // London moves to summer time on 28 March 2027: 18:00 local is 18:00Z before, 17:00Z after.
        let schedule = PlanSchedule.make(
            planId: "p", tasks: Self.tasks([60, 60, 60, 60, 60, 60, 60, 60]), weeklyHours: 4, startDate: "2027-03-22", deadlineDate: nil, tierMaxWeeks: nil,
            timeZone: Self.london)
        let first = schedule.weeks[0].tasks[0], later = schedule.weeks[1].tasks[0]
        #expect(first.date == "2027-03-22" && PlanSchedule.utc(first.startsAt) == "20270322T180000Z")
        #expect(later.date == "2027-03-29" && PlanSchedule.utc(later.startsAt) == "20270329T170000Z")
        #expect(PlanSchedule.utc(later.endsAt) == "20270329T180000Z")
        let tokyo = PlanSchedule.make(
            planId: "p", tasks: Self.tasks([60]), weeklyHours: 4, startDate: "2027-03-22", deadlineDate: nil, tierMaxWeeks: nil, timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(PlanSchedule.utc(tokyo.weeks[0].tasks[0].startsAt) == "20270322T090000Z")
    }

    @Test func nothingGoesPastTheTiersWeeksOrTheDeadline() {
        let tasks = Self.tasks(Array(repeating: 60, count: 12))
        let free = PlanSchedule.make(planId: "p", tasks: tasks, weeklyHours: 2, startDate: "2027-01-04", deadlineDate: nil, tierMaxWeeks: 2, timeZone: Self.london)
        #expect(free.weeks.count == 2 && free.weeks.flatMap(\.tasks).count == 4)
        #expect(free.unscheduled.map(\.taskId) == (5...12).map { "task-\($0)" })
        #expect(!free.fits && free.maxWeeks == 2)
        // A deadline on the tenth day allows two weeks, and nothing after the tenth day.
        let deadline = PlanSchedule.make(
            planId: "p", tasks: tasks, weeklyHours: 7, startDate: "2027-01-04", deadlineDate: "2027-01-13", tierMaxWeeks: nil, timeZone: Self.london)
        #expect(deadline.maxWeeks == 2)
        #expect(deadline.weeks.flatMap(\.tasks).allSatisfy { $0.date <= "2027-01-13" })
        #expect(deadline.weeks.flatMap(\.tasks).count == 10 && deadline.unscheduled.count == 2)
        let unlimited = PlanSchedule.make(planId: "p", tasks: tasks, weeklyHours: 2, startDate: "2027-01-04", deadlineDate: nil, tierMaxWeeks: nil, timeZone: Self.london)
        #expect(unlimited.weeks.count == 6 && unlimited.fits && unlimited.maxWeeks == nil)
    }

    @Test func theCalendarIsRFC5545() {
        var tasks = Self.tasks([30, 45])
        tasks[0].title = "Read; then write, with a \\ and a very long title that must be folded because it goes past seventy-five octets — ünïcödé"
        let schedule = PlanSchedule.make(planId: "p", tasks: tasks, weeklyHours: 5, startDate: "2027-01-04", deadlineDate: nil, tierMaxWeeks: nil, timeZone: Self.london)
        let text = schedule.iCalendar(name: "Swift, quickly", stamp: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(text.hasPrefix("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"))
        #expect(text.hasSuffix("END:VCALENDAR\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "every line ends in CRLF")
        for line in text.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 75, "\(line)") }
        let unfolded = text.replacingOccurrences(of: "\r\n ", with: "")
        #expect(unfolded.contains("SUMMARY:Read\\; then write\\, with a \\\\ and a very long title"))
        #expect(unfolded.contains("ünïcödé"))
        #expect(unfolded.contains("X-WR-CALNAME:Swift\\, quickly"))
        #expect(text.components(separatedBy: "BEGIN:VEVENT").count == 3)
        #expect(unfolded.contains("UID:task-1@syllabus") && unfolded.contains("DTSTART:20270104T180000Z") && unfolded.contains("DTEND:20270104T183000Z"))
    }

    @Test func aModelsPlanIsCheckedAndClamped() throws {
        let plan = try ChatCompletionsGenerator.plan(
            from: """
                ```json
                {"modules":[{"title":" Basics ","tasks":[
                  {"title":"Long","estimatedMinutes":900,"resources":[
                    {"type":"video","title":"A talk","url":"https://example.com/talk"},
                    {"type":"doc","url":"ftp://example.com/file"},
                    {"type":"article","title":"","url":"https://example.com/a"}]},
                  {"title":"Short","description":"Quick","estimatedMinutes":1}]}]}
                ```
                """)
        #expect(plan.modules.count == 1 && plan.modules[0].title == "Basics")
        #expect(plan.modules[0].tasks.map(\.estimatedMinutes) == [120, 5])
        #expect(plan.modules[0].estimatedMinutes == 125)
        // An unknown type becomes "other"; a non-web link is dropped; a missing title is the link.
        #expect(plan.modules[0].tasks[0].resources.map(\.type) == ["other", "article"])
        #expect(plan.modules[0].tasks[0].resources[1].title == "https://example.com/a")
        for bad in ["not json", #"{"modules":[]}"#, #"{"modules":[{"title":"A","tasks":[]}]}"#, #"{"modules":[{"title":" ","tasks":[{"title":"t","estimatedMinutes":5}]}]}"#] {
            #expect(throws: GenerationFailure.self) { try ChatCompletionsGenerator.plan(from: bad) }
            do { _ = try ChatCompletionsGenerator.plan(from: bad) } catch let failure as GenerationFailure { #expect(failure.classification == "validation") }
        }
    }

    @Test func costsRoundUpToTheCent() {
        let generator = ChatCompletionsGenerator(.init(baseURL: "http://x/v1/", apiKey: "k", model: "m", promptCentsPerMillion: 15, completionCentsPerMillion: 60))
        #expect(generator.configuration.baseURL == "http://x/v1")
        let usage = GenerationUsage(provider: "p", model: "m", promptTokens: 1200, completionTokens: 3400, costCents: 0)
        // 1200 × 15 + 3400 × 60 = 222,000 millionths of a cent: one cent, not zero.
        #expect(generator.priced(usage).costCents == 1)
        #expect(generator.priced(GenerationUsage(provider: "p", model: "m", promptTokens: 0, completionTokens: 0, costCents: 0)).costCents == 0)
    }

    @Test func sealedTokensOpenOnlyForTheirRowAndKey() throws {
        let key = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let vault = try TokenVault(encodedKey: key)
        let user = UUID(), other = UUID()
        let sealed = try vault.seal("secret_token", user: user, provider: "notion")
        #expect(!String(decoding: sealed, as: UTF8.self).contains("secret_token"))
        #expect(try vault.open(sealed, user: user, provider: "notion") == "secret_token")
        #expect(throws: TokenVault.Failure.cannotOpen) { try vault.open(sealed, user: other, provider: "notion") }
        #expect(throws: TokenVault.Failure.cannotOpen) { try vault.open(sealed, user: user, provider: "google_calendar") }
        let otherKey = try TokenVault(encodedKey: Data(repeating: 7, count: 32).base64EncodedString())
        #expect(otherKey.keyID != vault.keyID)
        #expect(throws: TokenVault.Failure.cannotOpen) { try otherKey.open(sealed, user: user, provider: "notion") }
        #expect(throws: TokenVault.Failure.invalidKey) { try TokenVault(encodedKey: "c2hvcnQ=") }
        // Two seals of one token differ (a fresh nonce each time).
        #expect(try vault.seal("secret_token", user: user, provider: "notion") != sealed)
    }

    @Test func aRotatedVaultOpensWhatItsOtherKeysSealedAndSealsWithTheNewKey() throws {
        let old = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let new = Data(repeating: 9, count: 32).base64EncodedString()
        let before = try TokenVault(encodedKey: old)
        let user = UUID()
        let sealed = try before.seal("secret_token", user: user, provider: "notion")
        let after = try TokenVault(encodedKey: new, previousKeys: [old])
        #expect(after.keyID != before.keyID && after.otherKeyIDs == [before.keyID] && after.previousKeyIDs == [before.keyID])
        // A next key opens and is no previous key (nothing is sealed again from it).
        let ahead = try TokenVault(encodedKey: old, nextKeys: [new])
        #expect(ahead.previousKeyIDs.isEmpty && ahead.otherKeyIDs == [after.keyID])
        #expect(try ahead.open(try after.seal("fresh", user: user, provider: "notion"), keyID: after.keyID, user: user, provider: "notion") == "fresh")
        #expect(try after.open(sealed, keyID: before.keyID, user: user, provider: "notion") == "secret_token")
        #expect(throws: TokenVault.Failure.cannotOpen) { try after.open(sealed, user: user, provider: "notion") }
        #expect(throws: TokenVault.Failure.unknownKey("000000")) { try after.open(sealed, keyID: "000000", user: user, provider: "notion") }
        // Once the old key is dropped, its rows do not open.
        #expect(throws: TokenVault.Failure.unknownKey(before.keyID)) {
            try TokenVault(encodedKey: new).open(sealed, keyID: before.keyID, user: user, provider: "notion")
        }
        #expect(throws: TokenVault.Failure.invalidKey) { try TokenVault(encodedKey: new, previousKeys: ["c2hvcnQ="]) }
    }
}
