import CourseRules
import Testing

@Suite struct CourseAccessTests {
    let modules = ["m1", "m2", "m3"]

    @Test func theFirstModuleIsAlwaysUnlocked() {
        #expect(CourseAccess.unlockedModules(inOrder: modules, completed: []) == ["m1"])
    }

    @Test func aModuleUnlocksWhenThePreviousOneIsComplete() {
        #expect(CourseAccess.unlockedModules(inOrder: modules, completed: ["m1"]) == ["m1", "m2"])
        #expect(CourseAccess.unlockedModules(inOrder: modules, completed: ["m1", "m2"]) == ["m1", "m2", "m3"])
    }

    @Test func completingALaterModuleDoesNotSkipAGap() {
        // m2 complete (perhaps before a reorder) but m1 not: only m1 and m3 are open.
        #expect(CourseAccess.unlockedModules(inOrder: modules, completed: ["m2"]) == ["m1", "m3"])
    }

    @Test func completionsOfModulesNoLongerPublishedAreIgnored() {
        #expect(CourseAccess.unlockedModules(inOrder: modules, completed: ["gone"]) == ["m1"])
        #expect(CourseAccess.unlockedModules(inOrder: [], completed: ["m1"]).isEmpty)
    }

    @Test func freeLessonsAreOpenToEveryone() {
        #expect(CourseAccess.lock(isFree: true, hasAccess: false, moduleUnlocked: false) == nil)
    }

    @Test func paidLessonsNeedAccessFirstThenAnUnlockedModule() {
        #expect(CourseAccess.lock(isFree: false, hasAccess: false, moduleUnlocked: true) == .subscriptionRequired)
        #expect(CourseAccess.lock(isFree: false, hasAccess: false, moduleUnlocked: false) == .subscriptionRequired)
        #expect(CourseAccess.lock(isFree: false, hasAccess: true, moduleUnlocked: false) == .moduleLocked)
        #expect(CourseAccess.lock(isFree: false, hasAccess: true, moduleUnlocked: true) == nil)
    }

    @Test func theNextModuleFollowsCourseOrder() {
        #expect(CourseAccess.module(after: "m1", inOrder: modules) == "m2")
        #expect(CourseAccess.module(after: "m3", inOrder: modules) == nil)
        #expect(CourseAccess.module(after: "x", inOrder: modules) == nil)
    }

    @Test func lockReasonsHaveTheirWireNames() {
        #expect(LessonLock.subscriptionRequired.rawValue == "subscription_required")
        #expect(LessonLock.moduleLocked.rawValue == "module_locked")
    }
}
