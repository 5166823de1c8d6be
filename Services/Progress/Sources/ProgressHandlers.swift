import Contracts
import ServiceKit

/// The events the progress service consumes; its queue is bound to exactly these types.
enum ProgressHandlers {
    static let all: [EventHandler] = [
        Entitlements.handler(),
        EventHandler(ContentCourseOutlineChangedV1.self, name: "outline") { event, connection in
            try LearnerProgress.applyOutline(event, on: connection)
        },
        EventHandler(ContentPlanGeneratedV1.self, name: "plans.generated") { event, connection in
            try LearnerProgress.applyPlan(
                planID: event.data.planId, userID: event.data.userId, modules: event.data.modules, version: event.sequenceNumber, on: connection)
        },
        EventHandler(ContentPlanRegeneratedV1.self, name: "plans.regenerated") { event, connection in
            try LearnerProgress.applyPlan(
                planID: event.data.planId, userID: event.data.userId, modules: event.data.modules, version: event.sequenceNumber, on: connection)
        },
        EventHandler(ContentPlanDeletedV1.self, name: "plans.deleted") { event, connection in
            try LearnerProgress.forgetPlan(event, on: connection)
        },
        AccessRevocations.handler(),
        Tombstones.handler { userID, connection in
            try LearnerProgress.forget(userID, on: connection)
        },
    ]
}
