import CourseRules
import Foundation
import Testing

@testable import Progress

/// The roll-up rules without a database: when modules and the course are complete, which
/// transition a change causes, and what a learner's summary says.
@Suite struct RollUpTests {
    let first = UUID(), second = UUID()
    let a = UUID(), b = UUID(), c = UUID()

    var outline: Outline {
        Outline(
            modules: [.init(id: first, title: "One"), .init(id: second, title: "Two")],
            lessons: [
                .init(id: a, moduleID: first, title: "A", isFree: true), .init(id: b, moduleID: first, title: "B", isFree: false),
                .init(id: c, moduleID: second, title: "C", isFree: false),
            ])
    }

    @Test func aModuleIsCompleteWhenEveryPublishedLessonOfItIsDone() {
        #expect(!RollUps.isComplete(module: first, outline: outline, done: [a]))
        #expect(RollUps.isComplete(module: first, outline: outline, done: [a, b]))
        // Lessons done elsewhere, or no longer published, do not count.
        #expect(!RollUps.isComplete(module: second, outline: outline, done: [a, b, UUID()]))
    }

    @Test func aModuleWithoutPublishedLessonsIsNotComplete() {
        #expect(!RollUps.isComplete(module: UUID(), outline: outline, done: [a, b, c]))
        let empty = Outline(modules: [.init(id: first, title: "One")], lessons: [])
        #expect(!RollUps.isComplete(module: first, outline: empty, done: []))
    }

    @Test func theCourseIsCompleteWhenEveryPublishedModuleIs() {
        #expect(!RollUps.isCourseComplete(outline: outline, completedModules: [first]))
        #expect(RollUps.isCourseComplete(outline: outline, completedModules: [first, second]))
        #expect(!RollUps.isCourseComplete(outline: Outline(modules: [], lessons: []), completedModules: []), "an empty course is never complete")
    }

    @Test func aFirstCompletionIsAFirstTimeAndALaterOneIsNot() {
        #expect(RollUps.transition(from: .never, toComplete: true) == .completed(firstTime: true))
        let reopened = CompletionRecord(completed: false, everCompleted: true)
        #expect(RollUps.transition(from: reopened, toComplete: true) == .completed(firstTime: false))
    }

    @Test func onlyAChangeIsATransition() {
        #expect(RollUps.transition(from: .never, toComplete: false) == nil)
        #expect(RollUps.transition(from: CompletionRecord(completed: true, everCompleted: true), toComplete: true) == nil)
        #expect(RollUps.transition(from: CompletionRecord(completed: true, everCompleted: true), toComplete: false) == .reopened)
    }

    @Test func aRecordRemembersItWasEverComplete() {
        let done = CompletionRecord.never.after(.completed(firstTime: true))
        #expect(done == CompletionRecord(completed: true, everCompleted: true))
        #expect(done.after(.reopened) == CompletionRecord(completed: false, everCompleted: true))
    }

    @Test func anOutlineChangeReconcilesPublishedModulesThenTrackedOnesNoLongerPublished() {
        let gone = UUID()
        #expect(RollUps.modulesToReconcile(outline: outline, tracked: [second, gone]) == [first, second, gone])
    }

    @Test func onlyTheShapeOfTheOutlineMattersToRollUps() {
        var renamed = outline
        renamed.lessons[0].title = "A, again"
        renamed.lessons[1].isFree = true
        #expect(renamed.shape == outline.shape)
        var moved = outline
        moved.lessons[2].moduleID = first
        #expect(moved.shape != outline.shape)
    }

    @Test func theSummaryCountsPublishedLessonsAndNamesTheNextOne() {
        let summary = ProgressSummary(outline: outline, done: [a, UUID()], completedModules: [], hasAccess: false, courseCompleted: false)
        #expect(summary.lessonsCompleted == 1)
        #expect(summary.lessonsTotal == 3)
        #expect(summary.percent == 33)
        #expect(summary.modules.map(\.percent) == [50, 0])
        #expect(summary.modules.map(\.unlocked) == [true, false])
        #expect(summary.nextLesson?.lessonId == b.lowercased)
        #expect(summary.nextLesson?.lockReason == .subscriptionRequired)
    }

    @Test func theNextModuleUnlocksOnceTheOneBeforeIsComplete() {
        let summary = ProgressSummary(outline: outline, done: [a, b], completedModules: [first], hasAccess: true, courseCompleted: false)
        #expect(summary.modules.map(\.unlocked) == [true, true])
        #expect(summary.modules.map(\.completed) == [true, false])
        #expect(summary.nextLesson?.lessonId == c.lowercased)
        #expect(summary.nextLesson?.unlocked == true)
        let done = ProgressSummary(outline: outline, done: [a, b, c], completedModules: [first, second], hasAccess: true, courseCompleted: true)
        #expect(done.nextLesson == nil)
        #expect(done.percent == 100)
    }

    @Test func aPlanIsMeasuredByEstimatedMinutesAndCompleteWhenEveryTaskIs() {
        let plan = UUID(), module = UUID()
        let tasks: [PlanSummary.Task] = [
            .init(moduleID: module, moduleOrder: 1, estimatedMinutes: 30, status: .completed),
            .init(moduleID: module, moduleOrder: 1, estimatedMinutes: 90, status: .inProgress),
        ]
        let summary = PlanSummary(plan: plan, tasks: tasks)
        #expect(summary.percent == 25)
        #expect(summary.completedTasks == 1 && summary.inProgressTasks == 1 && summary.totalTasks == 2)
        #expect(summary.modules.map(\.percent) == [50])
        #expect(!summary.completed)
        let unestimated = tasks.map { task in var task = task; task.estimatedMinutes = 0; return task }
        #expect(PlanSummary(plan: plan, tasks: unestimated).percent == 50, "without estimates, tasks count alike")
        #expect(!PlanSummary(plan: plan, tasks: []).completed, "a plan without tasks is not complete")
        let all = tasks.map { task in var task = task; task.status = .completed; return task }
        #expect(PlanSummary(plan: plan, tasks: all).completed)
    }
}
