import Contracts
import LearningPlans
import ServiceKit

/// The events the content service consumes, its learning plans' included; its queue is bound
/// to exactly these types.
enum ContentHandlers {
    static let all: [EventHandler] = [
        Entitlements.handler(),
        EventHandler(ProgressModuleCompletedV1.self, name: "modules.completed") { event, connection in
            try CourseStore.applyModuleState(
                userID: event.data.userId, moduleID: event.data.moduleId, completed: true, aggregateID: event.data.aggregateID,
                sequence: event.sequenceNumber, on: connection)
        },
        EventHandler(ProgressModuleReopenedV1.self, name: "modules.reopened") { event, connection in
            try CourseStore.applyModuleState(
                userID: event.data.userId, moduleID: event.data.moduleId, completed: false, aggregateID: event.data.aggregateID,
                sequence: event.sequenceNumber, on: connection)
        },
        AccessRevocations.handler(),
        Tombstones.handler { userID, connection in
            try CourseStore.forget(userID, on: connection)
        },
    ] + LearningPlansFeature.handlers
}
