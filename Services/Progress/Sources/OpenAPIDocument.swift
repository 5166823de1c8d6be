// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.
public enum ProgressOpenAPI {
    public static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus progress service
  version: 0.1.0
  description: |
    Each learner's progress through the course: which lessons they have started and completed,
    which modules and whether the course are complete, and what to do next. Progress keeps its own
    copy of the published outline (from content) and of each user's access (from billing), and
    records a completion only of a lesson open to the learner, by the same rule content applies:
    a free lesson is open to every signed-in user; any other lesson needs access and its module
    unlocked (the first published module always is, any other once the one before it is complete).

    A module is complete while every lesson of it currently published is completed by the learner;
    the course is complete while every published module is. Every change of either is published
    as an event (`progress.module.completed.v1`, `progress.module.reopened.v1`,
    `progress.course.completed.v1`, `progress.course.reopened.v1`), in the transaction of the
    change, and is published once: a learner's changes are applied one at a time.

    Every route acts on the caller's own progress only, the user of the access token; there is no
    route for another user's. The database enforces it too: a request's transaction sees and
    writes that learner's rows only (row-level security). Admins are learners here like anyone.

    Progress decides unlocking itself, at once: after the module before it is complete, the
    lessons of the next module can be started and completed by the next request. Other services
    learn it from the events, a moment later: content opens the next module's lessons
    (`GET /v1/lessons/{id}` on content) once it has consumed `progress.module.completed.v1`.
    Likewise progress learns access from `billing.entitlement.changed.v1` and the outline from
    `content.course.outline_changed.v1`. A client that needs the other side to have caught up
    retries or polls until it has (or waits for the event); it does not sleep for a fixed time.

    Access tokens are ES256 JWTs issued by identity and verified locally against the key set in
    `JWT_JWKS_FILE`; the tokens of a user whose `identity.user.deleted.v1` has arrived are refused.

    No route takes a request body; a body sent is not read. Responses are JSON with camelCase
    names, keys in alphabetical order; times are RFC 3339 strings in UTC with fractional seconds;
    optional properties without a value are left out (never `null`). Ids are UUIDs, written in
    lower case, as in the events; paths accept either case, and a path id that is not a UUID names
    nothing and is answered with 404 `not_found`, like an unknown one.

    Errors are RFC 9457 `application/problem+json` with a stable `code`. A path or method not
    listed here is answered with 404 `not_found`; an unexpected failure (for example the database
    being unreachable) with 500 `internal_error`.
servers:
  - url: http://127.0.0.1:8084
tags:
  - name: progress
    description: The caller's progress — the summary, and starting, completing and undoing lessons
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/progress:
    get:
      operationId: getProgress
      summary: The caller's progress through the published course
      description: |
        Computed on request against the published outline as progress last received it (the
        newest `content.course.outline_changed.v1`). Only lessons currently published count:
        completions of lessons since unpublished are kept but not counted.

        - `lessonsTotal` — the published lessons; `lessonsCompleted` — those the caller has
          completed; `percent` — `lessonsCompleted × 100 / lessonsTotal` rounded down (an integer;
          0 when nothing is published), so it reaches 100 only when every lesson is completed.
        - `courseCompleted` — every published module is complete (`false` while nothing is
          published).
        - `modules` — the published modules in course order, each with the same figures, whether
          it is `completed` (every published lesson of it completed) and whether it is `unlocked`
          (the first module, or the one before it is complete; access is not considered here).
        - `nextLesson` — the first published lesson, in course order (module by module, lesson by
          lesson), that the caller has not completed, with whether it is open to the caller and,
          if not, why; left out once every published lesson is completed, and while nothing is
          published.

        Reading changes nothing and publishes nothing.
      tags: [progress]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The caller's progress
          content:
            application/json:
              schema: { $ref: "#/components/schemas/ProgressSummary" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/progress/lessons/{lessonId}:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    put:
      operationId: completeLesson
      summary: Mark a lesson completed
      description: |
        Records that the caller completed the lesson, which must be in the published outline and
        open to the caller. Completion is an upsert: completing a lesson already completed changes
        nothing, publishes nothing and answers the same (while the lesson stays open to the
        caller: the rule is applied on every call). A lesson need not have been started first.

        On a new completion, in one transaction: `progress.lesson.completed.v1`; then the
        lesson's module and the course are brought in line — when this completes the module,
        `progress.module.completed.v1` (with `nextModuleId`, the module it unlocks), and when it
        completes the course, `progress.course.completed.v1`. Each transition is published
        exactly once, also when several completions of one learner arrive at once.

        The answer: `moduleCompleted` and `courseCompleted` as they are after the call;
        `nextModuleId`, the published module after the lesson's, while the lesson's module is
        complete (left out otherwise, and after the last module). The next module's lessons are
        open here from the next request on; content opens them once it has the event.

        Checked in this order: the token (401), the lesson (404), then whether it is open
        (403 `subscription_required`, then `module_locked`).
      tags: [progress]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The lesson is completed; the state of its module and of the course
          content:
            application/json:
              schema: { $ref: "#/components/schemas/CompletionResult" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/LessonLocked" }
        "404": { $ref: "#/components/responses/PublishedLessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    delete:
      operationId: uncompleteLesson
      summary: Undo a lesson's completion
      description: |
        Marks the lesson not completed for the caller. Undoing a lesson that is not completed
        changes nothing and publishes nothing. Not gated: a learner may undo any lesson of theirs,
        open or not, including one no longer published (its module is then the one recorded with
        the caller's progress on it).

        When it was completed, in one transaction: `progress.lesson.uncompleted.v1`; then, when
        its module was complete, `progress.module.reopened.v1` (reason `lesson_uncompleted`), and
        when the course was complete, `progress.course.reopened.v1` (same reason). The module
        after it locks again here at once; in content once the event has arrived.

        The answer has `lessonCompleted` `false`, and `moduleCompleted` and `courseCompleted` as
        they are after the call.
      tags: [progress]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The lesson is not completed; the state of its module and of the course
          content:
            application/json:
              schema: { $ref: "#/components/schemas/CompletionResult" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404":
          description: |
            The lesson is neither in the published outline nor ever started or completed by the
            caller, or the id is not a UUID (`not_found`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/progress/lessons/{lessonId}/start:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    post:
      operationId: startLesson
      summary: Record that the caller opened a lesson
      description: |
        Records a start of the lesson, which must be in the published outline and open to the
        caller, and publishes `progress.lesson.started.v1` — on every call, not only the first.
        `firstTime` is `true` for the caller's first start of the lesson (also when the lesson was
        completed without having been started); `startedAt` is the time of this start. Starting
        does not change whether the lesson is completed. No request body.

        Checked in this order: the token (401), the lesson (404), then whether it is open
        (403 `subscription_required`, then `module_locked`).
      tags: [progress]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The start is recorded
          content:
            application/json:
              schema: { $ref: "#/components/schemas/StartResult" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/LessonLocked" }
        "404": { $ref: "#/components/responses/PublishedLessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/progress/tasks/{taskId}:
    parameters:
      - name: taskId
        in: path
        required: true
        description: A task of one of the caller's learning plans (a UUID; anything else answers 404)
        schema: { type: string }
    put:
      operationId: setTaskStatus
      summary: Set the caller's status of a learning-plan task
      description: |
        Sets the task to `not_started`, `in_progress` or `completed` (setting it again is a no-op)
        and answers the plan's new percentage. The task must belong to one of the caller's plans
        as content last generated it; another learner's task answers 404 (row-level security).
        Progress learns a plan from `content.plan.generated.v1`, so just after a plan is ready its
        tasks may answer 404 for a moment: retry, or wait for the event.
      tags: [progress]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                status: { type: string, enum: [not_started, in_progress, completed] }
      responses:
        "200":
          description: The status is recorded
          content:
            application/json:
              schema: { $ref: "#/components/schemas/TaskResult" }
        "400":
          description: "`malformed_request` — the body is not JSON of that shape; `invalid_character` — it holds a NUL"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404":
          description: "`not_found` — no such task among the caller's plans"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "413":
          description: "`payload_too_large` — the body is over 2 MiB"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: "`validation_failed` — `status` is missing or not one of the three"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/progress/plans/{planId}:
    parameters:
      - name: planId
        in: path
        required: true
        description: One of the caller's learning plans (a UUID; anything else answers 404)
        schema: { type: string }
    get:
      operationId: planProgress
      summary: The caller's progress on a learning plan
      description: |
        Per module and for the plan: tasks completed of all; the plan's `percent` is the completed
        tasks' share of its estimated minutes (rounded down), a module's the share of its tasks.
        `completed` once every task is. Another learner's plan answers 404.
      tags: [progress]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The plan's progress
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanProgress" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404":
          description: "`not_found` — no such plan of the caller's"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /health/live:
    get:
      operationId: healthLive
      summary: Liveness — the process is up
      tags: [operations]
      responses:
        "200":
          description: Alive
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Health" }
  /health/ready:
    get:
      operationId: healthReady
      summary: Readiness — database, broker, topology and consumer
      description: "`checks` has `database`, `broker`, `topology` and `consumer`."
      tags: [operations]
      responses:
        "200":
          description: Ready
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Health" }
        "503":
          description: Not ready; `checks` says which dependency is down
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Health" }
  /metrics:
    get:
      operationId: metrics
      summary: Prometheus metrics
      tags: [operations]
      responses:
        "200":
          description: Metrics in the Prometheus text format
          content:
            text/plain:
              schema: { type: string }
  /openapi.yaml:
    get:
      operationId: openapi
      summary: This document
      tags: [operations]
      responses:
        "200":
          description: The OpenAPI document
          content:
            application/yaml:
              schema: { type: string }
components:
  # The operations routes, Problem, FieldError, Health, bearerAuth and the common problem
  # answers come from Shared/OpenAPI/common.yaml: `make openapi` merges them in.
  parameters:
    LessonId:
      name: lessonId
      in: path
      required: true
      description: The lesson's id, in either case; anything that is not a UUID is answered with 404 `not_found`
      schema: { type: string, format: uuid }
  responses:
    PublishedLessonNotFound:
      description: |
        No such lesson in the published outline as progress last received it — unknown,
        unpublished, in an unpublished module, or the id is not a UUID (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    LessonLocked:
      description: |
        The lesson is not open to the caller: `subscription_required` — a paid lesson and the
        caller has no access (as billing last said; named first, as it is what the learner can act
        on); `module_locked` — the caller has access but has not completed the published module
        before this one
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    Unauthenticated:
      description: |
        `unauthenticated` — no `Authorization: Bearer` header, or another scheme; `invalid_token`
        — the token is expired, malformed, badly signed, signed with an unknown key, not issued by
        identity, not meant for `syllabus`, or its account no longer exists (`detail` says which)
      headers:
        WWW-Authenticate:
          description: "`Bearer`, or `Bearer error=\"invalid_token\"`"
          schema: { type: string }
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    AdminOnly:
      description: The caller is not an admin (`admin_only`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    MalformedRequest:
      description: |
        The body is not valid JSON, or a property has the wrong type (`malformed_request`); or text
        in the path, the query, a header or the body holds a NUL character (`invalid_character`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InvalidCharacter:
      description: |
        Text in the path, the query, a header or the body holds a NUL character, which is refused
        rather than stored cut short (`invalid_character`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InternalError:
      description: An unexpected failure, for example the database being unreachable (`internal_error`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
  schemas:
    TaskResult:
      type: object
      required: [taskId, planId, status, planPercent]
      properties:
        taskId: { type: string, format: uuid }
        planId: { type: string, format: uuid }
        status: { type: string, enum: [not_started, in_progress, completed] }
        planPercent: { type: integer, minimum: 0, maximum: 100 }
    PlanProgress:
      type: object
      required: [planId, completedTasks, inProgressTasks, totalTasks, percent, completed, modules]
      properties:
        planId: { type: string, format: uuid }
        completedTasks: { type: integer, minimum: 0 }
        inProgressTasks: { type: integer, minimum: 0 }
        totalTasks: { type: integer, minimum: 0 }
        percent: { type: integer, minimum: 0, maximum: 100 }
        completed: { type: boolean }
        modules:
          type: array
          items:
            type: object
            required: [moduleId, order, completedTasks, totalTasks, percent]
            properties:
              moduleId: { type: string, format: uuid }
              order: { type: integer, minimum: 1 }
              completedTasks: { type: integer, minimum: 0 }
              totalTasks: { type: integer, minimum: 0 }
              percent: { type: integer, minimum: 0, maximum: 100 }
    ProgressSummary:
      type: object
      required: [lessonsCompleted, lessonsTotal, percent, courseCompleted, modules]
      properties:
        lessonsCompleted: { type: integer, minimum: 0, description: Published lessons the caller has completed }
        lessonsTotal: { type: integer, minimum: 0, description: Published lessons }
        percent: { type: integer, minimum: 0, maximum: 100, description: "`lessonsCompleted × 100 / lessonsTotal`, rounded down; 0 when nothing is published" }
        courseCompleted: { type: boolean, description: Every published module is complete for the caller }
        modules:
          type: array
          description: The published modules, in course order
          items: { $ref: "#/components/schemas/ModuleProgress" }
        nextLesson: { $ref: "#/components/schemas/NextLesson" }
      example:
        courseCompleted: false
        lessonsCompleted: 3
        lessonsTotal: 6
        modules:
          - { completed: true, lessonsCompleted: 2, lessonsTotal: 2, moduleId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3c01, order: 1, percent: 100, title: Getting started, unlocked: true }
          - { completed: false, lessonsCompleted: 1, lessonsTotal: 3, moduleId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3c02, order: 2, percent: 33, title: Building, unlocked: true }
          - { completed: false, lessonsCompleted: 0, lessonsTotal: 1, moduleId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3c03, order: 3, percent: 0, title: Shipping, unlocked: false }
        nextLesson: { lessonId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3d05, moduleId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3c02, title: Routes, unlocked: false, lockReason: subscription_required }
        percent: 50
    ModuleProgress:
      type: object
      required: [moduleId, title, order, lessonsCompleted, lessonsTotal, percent, completed, unlocked]
      properties:
        moduleId: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        order: { type: integer, minimum: 1, description: "1-based among the published modules, without gaps" }
        lessonsCompleted: { type: integer, minimum: 0, description: Its published lessons the caller has completed }
        lessonsTotal: { type: integer, minimum: 0, description: Its published lessons }
        percent: { type: integer, minimum: 0, maximum: 100, description: "`lessonsCompleted × 100 / lessonsTotal`, rounded down" }
        completed: { type: boolean, description: Every published lesson of it is completed by the caller }
        unlocked: { type: boolean, description: "The first module, or the one before it is complete (whatever the caller's access)" }
    NextLesson:
      type: object
      description: The first published lesson, in course order, the caller has not completed
      required: [lessonId, moduleId, title, unlocked]
      properties:
        lessonId: { type: string, format: uuid, description: Lower case }
        moduleId: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        unlocked: { type: boolean, description: "The caller may start and complete it now (it is free, or the caller has access and its module is unlocked)" }
        lockReason: { $ref: "#/components/schemas/LockReason" }
    LockReason:
      type: string
      description: |
        Why a lesson is closed to the caller; left out when it is open. `subscription_required` —
        paid and the caller has no access (named first); `module_locked` — the module before its
        module is not complete
      enum: [subscription_required, module_locked]
    CompletionResult:
      type: object
      required: [lessonId, lessonCompleted, moduleId, moduleCompleted, courseCompleted]
      properties:
        lessonId: { type: string, format: uuid, description: Lower case }
        lessonCompleted: { type: boolean, description: "`true` after `PUT`, `false` after `DELETE`" }
        moduleId: { type: string, format: uuid, description: The lesson's module (lower case) }
        moduleCompleted: { type: boolean, description: Every published lesson of the module is completed, after the call }
        courseCompleted: { type: boolean, description: Every published module is complete, after the call }
        nextModuleId:
          type: string
          format: uuid
          description: |
            The published module after the lesson's, which its completion unlocks (lower case);
            present only while the lesson's module is complete and is not the last
      example:
        courseCompleted: false
        lessonCompleted: true
        lessonId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3d02
        moduleCompleted: true
        moduleId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3c01
        nextModuleId: 0195e3a4-8c1e-7b2a-9d41-2f6c0a1b3c02
    StartResult:
      type: object
      required: [lessonId, moduleId, firstTime, startedAt]
      properties:
        lessonId: { type: string, format: uuid, description: Lower case }
        moduleId: { type: string, format: uuid, description: The lesson's module (lower case) }
        firstTime: { type: boolean, description: The caller's first start of this lesson }
        startedAt: { type: string, format: date-time, description: The time of this start }
    Health:
      type: object
      required: [status, service]
      properties:
        status: { type: string, enum: [live, ready, not_ready] }
        service: { type: string }
        checks:
          type: object
          additionalProperties: { type: string, enum: [up, down] }
    Problem:
      type: object
      description: RFC 9457 problem details; `code` is stable and meant for programs.
      required: [type, title, status, code]
      properties:
        type: { type: string }
        title: { type: string }
        status: { type: integer }
        code: { type: string }
        detail: { type: string }
        errors:
          type: array
          items: { $ref: "#/components/schemas/FieldError" }
        limit:
          type: integer
          description: For `quota_exceeded`, the limit that was reached.
    FieldError:
      type: object
      required: [field, code, message]
      properties:
        field: { type: string }
        code: { type: string }
        message: { type: string }

  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      bearerFormat: JWT
      description: |
        `Authorization: Bearer <access token>`, an ES256 JWT issued by identity. Refused when it
        is missing, expired, signed with a key identity does not publish (its JWKS), not issued by
        identity, not meant for `syllabus`, or when its user has been deleted.
        An operation whose requirement lists the role `admin` (`bearerAuth: [admin]`) is for
        admins only: any other caller's valid token gets 403 `admin_only`. An operation with
        `security: [{}, {bearerAuth: []}]` takes a token when one is sent.
"""#####
}
