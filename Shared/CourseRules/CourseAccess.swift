/// Why a lesson of the published outline is closed to a learner.
public enum LessonLock: String, Codable, Sendable, Equatable {
    /// A paid lesson, and the learner has no access (billing's entitlement).
    case subscriptionRequired = "subscription_required"
    /// The lesson's module is not unlocked yet: the previous published module is not complete.
    case moduleLocked = "module_locked"
}

/// The gating rule of the course, shared by content (which shows and serves lessons) and progress
/// (which records completions), so the two can never disagree:
///
/// - a free lesson is open to every signed-in user;
/// - any other lesson needs access, and its module unlocked;
/// - the first published module is unlocked; any other once the previous published module is
///   complete.
public enum CourseAccess {
    /// The modules that are unlocked, given the published modules in course order and the ones
    /// the learner has complete.
    public static func unlockedModules(inOrder modules: [String], completed: Set<String>) -> Set<String> {
        var unlocked: Set<String> = []
        for (index, module) in modules.enumerated() where index == 0 || completed.contains(modules[index - 1]) {
            unlocked.insert(module)
        }
        return unlocked
    }

    /// Whether one lesson is open, and if not why. Lack of access is named first: it is what the
    /// learner can act on.
    public static func lock(isFree: Bool, hasAccess: Bool, moduleUnlocked: Bool) -> LessonLock? {
        if isFree { return nil }
        if !hasAccess { return .subscriptionRequired }
        if !moduleUnlocked { return .moduleLocked }
        return nil
    }

    /// The module after `module` in course order, if any.
    public static func module(after module: String, inOrder modules: [String]) -> String? {
        guard let index = modules.firstIndex(of: module), index + 1 < modules.count else { return nil }
        return modules[index + 1]
    }
}
