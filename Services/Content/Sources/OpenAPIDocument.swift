// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.
public enum ContentOpenAPI {
    public static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus content service
  version: 0.1.0
  description: |
    The course: modules, lessons and their downloads as admins author them, the published outline
    as learners see it, lesson bodies (TipTap documents) and lesson videos at Mux. Content decides
    what is open to each learner from billing's entitlement and progress's module completions:
    a free lesson is open to every signed-in user; any other lesson needs access and its module
    unlocked (the first published module always is, any other once the one before it is complete).

    Access tokens are ES256 JWTs issued by identity and verified locally against the key set in
    `JWT_JWKS_FILE`; the tokens of a user whose `identity.user.deleted.v1` has arrived are refused.
    Everything under `/v1/content/admin/` is for admins only.

    Request bodies are JSON objects (`Content-Type` is not checked); unknown properties are
    ignored, and a property that is `null` counts as absent. A body that is not JSON, or a
    property of the wrong type, is answered with 400 `malformed_request`; a body holding a NUL
    character, raw or as `\u0000`, with 400 `invalid_character`; a missing or invalid value with
    422 `validation_failed`, which lists each field in `errors`; a body over the limit (2 MiB,
    256 KiB for the Mux webhook) with 413 `payload_too_large`. Responses are JSON with
    camelCase names; times are RFC 3339 strings in UTC with fractional seconds; optional
    properties without a value are left out.

    Ids are UUIDs, written in lower case in every answer, as in the events. Paths accept either
    case; a path id that is not a UUID names nothing and is
    answered with 404 `not_found`, like an unknown one.

    Learners also keep learning plans (`/v1/plans`): a plan is asked for with a topic, a level,
    weekly hours and a style, generated in the background, and followed as server-sent events;
    it can be regenerated with changes, laid out as a weekly schedule, subscribed to as an
    iCalendar feed, and exported to Notion or synced to Google Calendar once the learner has
    connected them (`/v1/integrations`). Each learner sees only their own plans — the
    database's row-level security keeps them apart — so another learner's plan id is answered
    with 404 `not_found`, like an unknown one. A calendar feed's URL needs no access token: its
    secret is the key.

    Errors are RFC 9457 `application/problem+json` with a stable `code`. A path or method not
    listed here is answered with 404 `not_found`; an unexpected failure (for example the database
    being unreachable) with 500 `internal_error`.
servers:
  - url: http://127.0.0.1:8083
tags:
  - name: course
    description: The course as a learner sees it, lessons and video playback
  - name: plans
    description: |
      A learner's learning plans — ask for one, follow its generation, read, archive, retry,
      regenerate, delete; its schedule and calendar feed; exports to Notion and Google Calendar
  - name: integrations
    description: A learner's connections to Notion and Google Calendar
  - name: authoring
    description: Admins shape the course — modules, lessons, downloads, order, publication — and upload videos
  - name: webhooks
    description: What Mux sends
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/course:
    get:
      operationId: getCourse
      summary: The published course, with what is open to the caller
      description: |
        The published outline — published modules that have at least one published lesson, in
        course order, each with its published lessons in order, both numbered 1… without gaps —
        and for each module and lesson whether it is open to the caller, and if not why.

        `hasAccess` and `tier` are billing's last word on the caller (no access, `free`, until
        billing has decided anything). A module is `unlocked` when it is the first, or when the
        module before it is `completed` (as progress reports it). A lesson is `unlocked` when it
        is free, or when the caller has access and its module is unlocked; otherwise `lockReason`
        says why: `subscription_required` (no access; named first, as it is what the learner can
        act on) or `module_locked`.
      tags: [course]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The course as the caller sees it
          content:
            application/json:
              schema: { $ref: "#/components/schemas/LearnerCourse" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/lessons/{id}:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    get:
      operationId: getLesson
      summary: Open a lesson
      description: |
        A published lesson of the outline with its body and downloads, when it is open to the
        caller (the rule of `GET /v1/course`). An unpublished lesson, or one whose module is
        unpublished, is not found.
      tags: [course]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The lesson
          content:
            application/json:
              schema: { $ref: "#/components/schemas/LessonContent" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/LessonLocked" }
        "404": { $ref: "#/components/responses/PublishedLessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/lessons/{id}/playback:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    get:
      operationId: getLessonPlayback
      summary: Signed playback of a lesson's video
      description: |
        For a lesson open to the caller whose video is ready: Mux's playback id and two RS256
        tokens signed with the Mux signing key (`kid` names it; `sub` the playback id; `aud` `v`
        for the stream, `t` for the thumbnail; `exp` one hour from now), and the stream and
        thumbnail URLs with their token in place. Tokens are made for each request and never
        stored; the answer must not be cached.

        Checked in this order: the lesson (404, 403), its video (409 `video_not_ready`), then
        whether playback is configured (503 `video_unavailable`).
      tags: [course]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The playback grant
          headers:
            Cache-Control:
              schema: { type: string, const: no-store }
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlaybackGrant" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/LessonLocked" }
        "404": { $ref: "#/components/responses/PublishedLessonNotFound" }
        "409":
          description: The lesson has no video that can be played yet (`video_not_ready`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503":
          description: |
            Playback is not configured here: `CONTENT_MUX_SIGNING_KEY_ID` or
            `CONTENT_MUX_SIGNING_KEY` is not set (`video_unavailable`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
  /v1/plans:
    post:
      operationId: createPlan
      summary: Ask for a learning plan
      description: |
        Creates a plan for the caller and queues its generation; the answer comes at once, with
        `generationStatus` `generating` and without `modules`. Follow the generation with
        `GET /v1/plans/{id}/stream`, or read the plan again until it is `ready` or `failed`.

        The caller's tier (billing's last word; `free` until billing has decided) limits how many
        active plans they may have — plans not archived, whatever their status: `free` 3,
        `starter` 10, `pro` unlimited — and how many generations they may queue a calendar month
        (UTC), new plans, regenerations and retries together: `free` 10, `starter` 40, `pro` 200.
        The counts and the creation happen under a lock on the caller's usage row for the month,
        so parallel requests cannot pass a limit together. Archiving or deleting a plan frees its
        active slot but gives no generation back.

        Once the plans provider has cost the day's ceiling (`CONTENT_PLANS_DAILY_SPEND_CENTS`,
        across learners, per UTC day), no generation is queued until the next UTC day (503
        `generation_capacity`).

        Checked in this order: the body's size and characters (413, 400 `invalid_character`),
        the token (401), the body's shape (400 `malformed_request`), its values (422), the
        limits (403: active plans, then generations), then the day's capacity (503).
      tags: [plans]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/PlanRequest" }
      responses:
        "201":
          description: Created, its generation queued
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Plan" }
        "400": { $ref: "#/components/responses/PlanRequestUnreadable" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/PlanQuotaExceeded" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422": { $ref: "#/components/responses/InvalidPlanRequest" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/GenerationCapacity" }
    get:
      operationId: listPlans
      summary: The caller's plans
      description: |
        Every plan of the caller — archived, generating and failed ones included — newest first,
        without `modules`. Another learner's plans are never listed.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The caller's plans
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanList" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/stream:
    post:
      operationId: createPlanAndStream
      summary: Ask for a learning plan and follow its generation
      description: |
        Creates the plan as `POST /v1/plans` does (the same body, limits, checks and problems,
        answered before the stream starts), then answers with the server-sent events of
        `GET /v1/plans/{id}/stream` for it. A client that goes away stops only its stream: the
        generation goes on, and the plan can be read or followed again.

        Streams are limited as for `GET /v1/plans/{id}/stream` (429 `too_many_streams`); that
        is checked after the body's values (422) and before the plan is made, so a refused
        stream makes no plan and spends no generation.
      tags: [plans]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/PlanRequest" }
      responses:
        "200": { $ref: "#/components/responses/PlanEventStream" }
        "400": { $ref: "#/components/responses/PlanRequestUnreadable" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/PlanQuotaExceeded" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422": { $ref: "#/components/responses/InvalidPlanRequest" }
        "429": { $ref: "#/components/responses/TooManyStreams" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/GenerationCapacity" }
  /v1/plans/{id}:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    get:
      operationId: getPlan
      summary: One plan with its modules, tasks and resources
      description: |
        `modules` is always present here: empty until the plan is first generated, then its
        generated modules — kept while it is regenerated, and when a regeneration fails, until
        new ones replace them.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The plan
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanWithModules" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    delete:
      operationId: deletePlan
      summary: Delete a plan
      description: |
        Deletes the plan with its modules, tasks, resources, queued generation and attempts, and
        publishes `content.plan.deleted.v1`. A generation under way for it is dropped.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Deleted
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/{id}/stream:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    get:
      operationId: followPlan
      summary: Follow a plan's generation
      description: |
        Server-sent events about the plan's generation (see the `200` answer). For a plan that
        is already `ready` or `failed` the whole stream comes at once. A client that goes away
        stops only its stream, never the generation.

        Each server answers at most 2 open streams per learner and 200 in all (both
        configurable); one more is refused with 429 `too_many_streams` (`limit`: the streams a
        learner may have open), checked before the plan is looked up.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200": { $ref: "#/components/responses/PlanEventStream" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "429": { $ref: "#/components/responses/TooManyStreams" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/{id}/archive:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    post:
      operationId: archivePlan
      summary: Archive a plan
      description: |
        The plan stays readable, listed and followable, and no longer counts as active against
        the tier's limit. Archiving it again changes nothing; a plan cannot be unarchived. No
        request body.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The plan, `archived`
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanWithModules" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/{id}/retry:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    post:
      operationId: retryPlan
      summary: Generate a failed plan again
      description: |
        Queues a `failed` plan's generation (or, when a regeneration failed, its regeneration)
        again, ahead of first generations, with a fresh budget of attempts; the plan is
        `generating` again. It is one more of the month's generations (403 `quota_exceeded` past
        the tier's, as for `POST /v1/plans`) and needs the day's capacity (503
        `generation_capacity`); neither is checked before the plan's state (409). No request
        body.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "202":
          description: Queued; the plan, `generating`
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanWithModules" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "403":
          description: |
            The caller has queued as many generations this month (UTC) as their tier allows —
            `free` 10, `starter` 40, `pro` 200 (`quota_exceeded`; `limit` and `detail` name it)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "409":
          description: The plan is `generating` or `ready`, not `failed` (`not_failed`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/GenerationCapacity" }
  /v1/plans/{id}/regenerate:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    post:
      operationId: regeneratePlan
      summary: Generate a plan again, with changes
      description: |
        Applies the changes in the body, if any, to the plan's request (the topic and dates stay
        as they were) and queues its regeneration, ahead of first generations; the plan is
        `generating` again and keeps its modules until the new ones replace them. The changes
        stay even if the regeneration fails. A plan that is `ready` or `failed` can be
        regenerated; not an archived one, nor one being generated. On success
        `content.plan.regenerated.v1` is published; a new task with the title of one it
        replaces keeps that task's id.

        The caller's tier limits regenerations per calendar month (UTC): `free` 5, `starter` 10,
        `pro` 50; a regeneration is also one of the month's generations (`free` 10, `starter`
        40, `pro` 200, as for `POST /v1/plans`). The counts and the regeneration happen under a
        lock on the caller's usage row for the month, as for `POST /v1/plans`, and the day's
        capacity is needed as there (503 `generation_capacity`).

        Checked in this order: the body's size and characters (413, 400 `invalid_character`),
        the token (401), the path id (404), the body's shape (400 `malformed_request`), its
        values (422), the plan (404), its state (409), the limits (403: regenerations, then
        generations), then the day's capacity (503).
      tags: [plans]
      security:
        - bearerAuth: []
      requestBody:
        required: false
        description: The changes; an empty body (or `{}`) changes nothing
        content:
          application/json:
            schema: { $ref: "#/components/schemas/PlanChanges" }
      responses:
        "202":
          description: Queued; the plan, `generating`, with its current modules
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanWithModules" }
        "400": { $ref: "#/components/responses/PlanRequestUnreadable" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403":
          description: |
            The caller has regenerated as many plans this month as their tier allows — `free` 5,
            `starter` 10, `pro` 50 — or queued as many generations — `free` 10, `starter` 40,
            `pro` 200 (`quota_exceeded`; `limit` and `detail` name the limit reached)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "409":
          description: |
            `generation_in_progress` — the plan is `generating` (checked first);
            `plan_archived` — the plan is archived
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `skillLevel` `invalid_choice` (not one
            of `beginner`, `intermediate`, `advanced`); `learningStyle` `invalid_choice` (not
            one of `reading`, `video`, `practice`, `mixed`); `weeklyHours` `out_of_range` (not 1
            to 80); `notes` `invalid_length` (over 2000 characters)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/GenerationCapacity" }
  /v1/plans/{id}/attempts:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    get:
      operationId: listPlanAttempts
      summary: The plan's generation attempts
      description: Every attempt to generate the plan, successful or not, oldest first.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The attempts
          content:
            application/json:
              schema: { $ref: "#/components/schemas/AttemptList" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/{id}/schedule:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    get:
      operationId: getPlanSchedule
      summary: The plan's tasks laid out over weeks
      description: |
        The plan's tasks, in plan order, laid out from its `startDate` (else the day it was
        created) in the learner's time zone (from identity's profile; UTC until they set one). Each
        week holds up to the plan's weekly hours (at least one hour); a task that would overflow
        the week starts the next one (a task longer than a week has one to itself). A week's
        tasks are spread over its seven days by how much of the week is used, one study session
        a day from 18:00 local time (09:00 when the plan has more than 28 weekly hours), tasks of
        the same day one after another.

        The schedule uses at most `maxWeeks` weeks — the tier's (`free` 2, `starter` 8, `pro`
        unlimited) or the deadline's, whichever is fewer — and no day after the deadline; tasks
        that do not fit are listed in `unscheduled` rather than crammed in. A plan without
        generated modules has an empty schedule.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The schedule
          content:
            application/json:
              schema: { $ref: "#/components/schemas/PlanSchedule" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/{id}/calendar-feed:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    post:
      operationId: createPlanCalendarFeed
      summary: Make a secret iCalendar feed of the plan's schedule
      description: |
        Makes a new secret URL that calendar apps can subscribe to (`GET
        /v1/calendar-feeds/{token}`), replacing — and so revoking — any earlier one of the plan.
        Only a digest of its token is kept, so the URL is shown this once. No request body.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "201":
          description: Created
          content:
            application/json:
              schema: { $ref: "#/components/schemas/CalendarFeed" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    delete:
      operationId: revokePlanCalendarFeed
      summary: Revoke the plan's calendar feed
      description: Its URL stops working at once. Deleting the plan revokes it too.
      tags: [plans]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Revoked
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404":
          description: |
            No such plan of the caller (as for the other plan routes), or the plan has no feed
            (`not_found`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/plans/{id}/exports/notion:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    post:
      operationId: exportPlanToNotion
      summary: Export a plan to Notion
      description: |
        With the caller's Notion connection, creates a page for the plan under `parentPageId`
        (its level, weekly hours, style and notes), under it a page per module and under each a
        page per task, with the task's resources as links. Each export makes new pages. Records
        the export and publishes `content.plan.exported.v1`.

        Takes one export from the caller's month (UTC): `free` 10, `starter` 50, `pro`
        unlimited; an export that fails gives it back.

        Checked in this order: the body's size and characters (413, 400 `invalid_character`),
        the token (401), the path id (404), the body's shape (400 `malformed_request`), its
        values (422), whether Notion is set up here (503), the connection (409), the plan (404,
        409 `plan_not_ready`), the limit (403), then Notion's answers (409, 502).
      tags: [plans]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [parentPageId]
              properties:
                parentPageId:
                  type: string
                  description: |
                    The Notion page to export under, shared with the integration: its id, 32
                    hexadecimal digits with or without dashes
                  example: 1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9
      responses:
        "201":
          description: Exported
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Export" }
        "400": { $ref: "#/components/responses/BodyUnreadable" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/ExportQuotaExceeded" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "409": { $ref: "#/components/responses/ExportConflict" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: "`validation_failed`: `parentPageId` `invalid_id` (missing, or not 32 hexadecimal digits once dashes are removed)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502": { $ref: "#/components/responses/IntegrationFailed" }
        "503": { $ref: "#/components/responses/IntegrationUnavailable" }
  /v1/plans/{id}/exports/google-calendar:
    parameters:
      - $ref: "#/components/parameters/PlanId"
    post:
      operationId: syncPlanToGoogleCalendar
      summary: Sync a plan's schedule to a Google calendar
      description: |
        With the caller's Google Calendar connection, puts the plan's schedule (`GET
        /v1/plans/{id}/schedule`) in the calendar: one event per scheduled task, created once
        and afterwards updated in place when its times or title changed (created again if it was
        deleted in Google, moved when the calendar changed); the events of tasks no longer
        scheduled are deleted. Each event is remembered as soon as it exists, so a sync that
        fails halfway is completed, not duplicated, by the next. An access token that expires
        within a minute is refreshed first. Records the export and publishes
        `content.plan.exported.v1`.

        Takes one export from the caller's month, as `POST /v1/plans/{id}/exports/notion`
        does; a sync that fails gives it back.

        Checked in this order: the body's size and characters (413, 400 `invalid_character`),
        the token (401), the path id (404), the body's shape (400 `malformed_request`), its
        values (422), whether Google Calendar is set up here (503), the connection (409, 502
        when a refresh fails), the plan (404, 409 `plan_not_ready`), the limit (403), then
        Google's answers (409, 502).
      tags: [plans]
      security:
        - bearerAuth: []
      requestBody:
        required: false
        description: May be left out, or empty, for the primary calendar
        content:
          application/json:
            schema:
              type: object
              properties:
                calendarId:
                  type: string
                  minLength: 1
                  maxLength: 255
                  pattern: "^[^/]+$"
                  default: primary
                  description: A Google calendar id, or `primary` (the default); without `/`
      responses:
        "200":
          description: Synced
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Export" }
        "400": { $ref: "#/components/responses/BodyUnreadable" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/ExportQuotaExceeded" }
        "404": { $ref: "#/components/responses/PlanNotFound" }
        "409": { $ref: "#/components/responses/ExportConflict" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: "`validation_failed`: `calendarId` `invalid_id` (empty, over 255 bytes in UTF-8, or holding `/`)"
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502": { $ref: "#/components/responses/IntegrationFailed" }
        "503": { $ref: "#/components/responses/IntegrationUnavailable" }
  /v1/calendar-feeds/{token}:
    parameters:
      - name: token
        in: path
        required: true
        description: |
          The feed's secret token, as in the URL `POST /v1/plans/{id}/calendar-feed` answered
          (43 URL-safe base64 characters), with or without `.ics`
        schema: { type: string }
    get:
      operationId: getCalendarFeed
      summary: A plan's schedule as an iCalendar feed
      description: |
        For calendar apps: no access token (they send none), the token in the URL is the key.
        The plan's schedule (`GET /v1/plans/{id}/schedule`, worked out afresh at each fetch) as
        an RFC 5545 calendar named after the plan's topic: one event per scheduled task, in
        UTC, with the stable UID `<taskId>@syllabus`, so apps update events rather than
        duplicate them. Each fetch is recorded.
      tags: [plans]
      security: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The calendar
          headers:
            Cache-Control:
              schema: { type: string, const: "private, max-age=300" }
          content:
            text/calendar:
              schema: { type: string }
              example: |
                BEGIN:VCALENDAR
                VERSION:2.0
                PRODID:-//Syllabus//Learning plans//EN
                CALSCALE:GREGORIAN
                METHOD:PUBLISH
                X-WR-CALNAME:SwiftUI
                X-WR-TIMEZONE:Europe/Berlin
                BEGIN:VEVENT
                UID:01a2bbed-ab9f-7a3c-9d42-6e8f1b0c7a60@syllabus
                DTSTAMP:20261201T081500Z
                DTSTART:20261201T170000Z
                DTEND:20261201T182000Z
                SUMMARY:Read the SwiftUI overview
                DESCRIPTION:Week 1 of your plan · 80 min
                TRANSP:OPAQUE
                END:VEVENT
                END:VCALENDAR
        "404":
          description: |
            No feed has this token — unknown, replaced by a newer one, revoked, or its plan
            deleted (`not_found`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/integrations:
    get:
      operationId: listIntegrations
      summary: The caller's connections
      description: The providers the caller has connected, in order of `provider`.
      tags: [integrations]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The connections
          content:
            application/json:
              schema: { $ref: "#/components/schemas/ConnectionList" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/integrations/{provider}/connect:
    parameters:
      - $ref: "#/components/parameters/Provider"
    post:
      operationId: connectIntegration
      summary: Connect Notion or Google Calendar
      description: |
        The app sends the OAuth authorization code the provider gave it; content exchanges it
        (with its client id and secret) for the caller's tokens and keeps them sealed
        (AES-256-GCM under `CONTENT_INTEGRATIONS_KEY`), replacing any earlier grant for the
        provider (a refresh token or account the new grant lacks is kept).

        Checked in this order: the body's size and characters (413, 400 `invalid_character`),
        the token (401), the provider (404), the body's shape (400 `malformed_request`), its
        values (422 `validation_failed`), whether the provider is set up here (503), then the
        provider's answer (422 `authorization_rejected`, 502).
      tags: [integrations]
      security:
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [code, redirectUri]
              properties:
                code: { type: string, minLength: 1, maxLength: 2048, description: The authorization code }
                redirectUri: { type: string, format: uri, maxLength: 2048, description: "The `http` or `https` redirect URI the code was issued for" }
      responses:
        "200":
          description: Connected
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Connection" }
        "400": { $ref: "#/components/responses/BodyUnreadable" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404": { $ref: "#/components/responses/ProviderNotFound" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `code` `required` (missing, empty or over
            2048 characters); `redirectUri` `invalid_url` (missing, not an `http` or `https` URL,
            or over 2048 characters). `authorization_rejected` — the provider refused the code
            (it answered 4xx; `detail` holds its explanation)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502": { $ref: "#/components/responses/IntegrationFailed" }
        "503": { $ref: "#/components/responses/IntegrationUnavailable" }
  /v1/integrations/{provider}:
    parameters:
      - $ref: "#/components/parameters/Provider"
    delete:
      operationId: disconnectIntegration
      summary: Disconnect Notion or Google Calendar
      description: |
        Forgets the caller's tokens for the provider (they are not revoked at the provider).
        Calendar events already synced stay in Google Calendar.
      tags: [integrations]
      security:
        - bearerAuth: []
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Disconnected
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "404":
          description: Not `notion` or `google-calendar`, or the caller has not connected it (`not_found`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules:
    get:
      operationId: adminListModules
      summary: The whole course
      description: Every module in course order with its lessons in order, unpublished ones included.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The modules
          content:
            application/json:
              schema: { $ref: "#/components/schemas/ModuleList" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "500": { $ref: "#/components/responses/InternalError" }
    post:
      operationId: adminCreateModule
      summary: Create a module
      description: |
        Creates an unpublished module without lessons. Without `order` it goes last; with
        `order` it takes that place and the modules from there move down one.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [title]
              properties:
                title: { type: string, minLength: 1, maxLength: 200, description: "1 to 200 characters once trimmed" }
                description: { type: string, maxLength: 2000, description: "At most 2000 characters; empty when left out" }
                order: { type: integer, minimum: 1, description: "1-based place, at most one past the last module" }
      responses:
        "201":
          description: Created
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Module" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `title` `required` / `invalid_length`;
            `description` `invalid_length`; `order` `out_of_range` (below 1; more than one past the
            last module is reported on its own once the rest is valid)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules/order:
    put:
      operationId: adminReorderModules
      summary: Put the modules in a new order
      description: |
        `ids` names every module exactly once, in the new order; they are renumbered 1… in one
        transaction. Answers with the whole course, as `GET /v1/content/admin/modules`.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/OrderRequest" }
      responses:
        "200":
          description: The modules in their new order
          content:
            application/json:
              schema: { $ref: "#/components/schemas/ModuleList" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422": { $ref: "#/components/responses/InvalidOrder" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules/{id}:
    parameters:
      - $ref: "#/components/parameters/ModuleId"
    get:
      operationId: adminGetModule
      summary: One module with its lessons
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The module
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Module" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    patch:
      operationId: adminUpdateModule
      summary: Change a module's title or description
      description: |
        Every property optional; only those present change. The place is changed with
        `PUT /v1/content/admin/modules/order`.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                title: { type: string, minLength: 1, maxLength: 200, description: "1 to 200 characters once trimmed" }
                description: { type: string, maxLength: 2000 }
      responses:
        "200":
          description: The module after the change
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Module" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `title` `invalid_length`; `description`
            `invalid_length`; `order` `read_only` (present)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
    delete:
      operationId: adminDeleteModule
      summary: Delete a module with its lessons and downloads
      description: The modules after it move up one.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Deleted
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules/{id}/publish:
    parameters:
      - $ref: "#/components/parameters/ModuleId"
    post:
      operationId: adminPublishModule
      summary: Publish a module
      description: |
        Learners see it once it also has a published lesson; its lessons that are published
        appear with it. Publishing it again changes nothing. No request body.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The module
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Module" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules/{id}/unpublish:
    parameters:
      - $ref: "#/components/parameters/ModuleId"
    post:
      operationId: adminUnpublishModule
      summary: Unpublish a module
      description: |
        Hides the module and all its lessons from learners; the lessons keep their own
        `published` flag, so they come back with the module. No request body.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The module
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Module" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules/{id}/lessons:
    parameters:
      - $ref: "#/components/parameters/ModuleId"
    post:
      operationId: adminCreateLesson
      summary: Create a lesson in a module
      description: |
        Creates an unpublished lesson without video or downloads. Without `order` it goes last in
        its module; with `order` it takes that place and the lessons from there move down one.
        Without `body` the lesson starts with an empty paragraph.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [title]
              properties:
                title: { type: string, minLength: 1, maxLength: 200, description: "1 to 200 characters once trimmed" }
                body: { $ref: "#/components/schemas/TipTapDocument" }
                isFree: { type: boolean, default: false, description: Open to every signed-in user }
                durationSeconds: { type: integer, minimum: 0, maximum: 86400, description: "Set from the video once Mux has processed it" }
                order: { type: integer, minimum: 1, description: "1-based place, at most one past the module's last lesson" }
      responses:
        "201":
          description: Created
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Lesson" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `title` `required` / `invalid_length`;
            the body's problems (see `TipTapDocument`); `durationSeconds` `out_of_range`; `order`
            `out_of_range` (below 1; more than one past the module's last lesson is reported on
            its own, after the module is found)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/modules/{id}/lessons/order:
    parameters:
      - $ref: "#/components/parameters/ModuleId"
    put:
      operationId: adminReorderLessons
      summary: Put a module's lessons in a new order
      description: |
        `ids` names every lesson of the module exactly once, in the new order; they are
        renumbered 1… in one transaction. Answers with the module.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/OrderRequest" }
      responses:
        "200":
          description: The module with its lessons in their new order
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Module" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/ModuleNotFound" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422": { $ref: "#/components/responses/InvalidOrder" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/lessons/{id}:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    get:
      operationId: adminGetLesson
      summary: One lesson with its body, video and downloads
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The lesson
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Lesson" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
    patch:
      operationId: adminUpdateLesson
      summary: Change a lesson
      description: |
        Every property optional; only those present change (`durationSeconds` cannot be cleared).
        The place is changed with `PUT /v1/content/admin/modules/{id}/lessons/order`.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                title: { type: string, minLength: 1, maxLength: 200, description: "1 to 200 characters once trimmed" }
                body: { $ref: "#/components/schemas/TipTapDocument" }
                isFree: { type: boolean }
                durationSeconds: { type: integer, minimum: 0, maximum: 86400 }
      responses:
        "200":
          description: The lesson after the change
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Lesson" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `title` `invalid_length`; the body's
            problems (see `TipTapDocument`); `durationSeconds` `out_of_range`; `order` `read_only`
            (present)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
    delete:
      operationId: adminDeleteLesson
      summary: Delete a lesson with its downloads
      description: The lessons after it in its module move up one.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Deleted
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/lessons/{id}/publish:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    post:
      operationId: adminPublishLesson
      summary: Publish a lesson
      description: |
        Its module must be published first. Publishing it again changes nothing. No request body.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The lesson
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Lesson" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "409":
          description: The lesson's module is not published (`module_unpublished`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/lessons/{id}/unpublish:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    post:
      operationId: adminUnpublishLesson
      summary: Unpublish a lesson
      description: Hides it from learners. No request body.
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The lesson
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Lesson" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/lessons/{id}/assets:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    post:
      operationId: adminAddAsset
      summary: Add a download to a lesson
      description: |
        Records a file kept elsewhere (content stores its address, not the file). A lesson holds
        at most 50. Checked in this order: the body (400, 422), the lesson (404), the count (409).
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [title, url, type, sizeBytes]
              properties:
                title: { type: string, minLength: 1, maxLength: 200, description: "1 to 200 characters once trimmed" }
                url: { type: string, format: uri, maxLength: 2048, description: An absolute `http` or `https` URL with a host }
                type: { type: string, maxLength: 100, description: "A media type, `type/subtype`, e.g. `application/pdf`" }
                sizeBytes: { type: integer, minimum: 0, maximum: 10737418240, description: "Up to 10 GiB" }
      responses:
        "201":
          description: Added
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Asset" }
        "400": { $ref: "#/components/responses/MalformedRequest" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "409":
          description: The lesson holds 50 downloads already (`too_many_assets`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every bad field listed: `title` `required` / `invalid_length`;
            `url` `required` / `invalid_url`; `type` `required` / `invalid_media_type`;
            `sizeBytes` `required` / `out_of_range`
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/lessons/{id}/assets/{assetId}:
    parameters:
      - $ref: "#/components/parameters/LessonId"
      - $ref: "#/components/parameters/AssetId"
    delete:
      operationId: adminDeleteAsset
      summary: Remove a download from a lesson
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "204":
          description: Removed
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404":
          description: |
            No such download of this lesson, or either id is not a UUID (`not_found`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/content/admin/lessons/{id}/video-upload:
    parameters:
      - $ref: "#/components/parameters/LessonId"
    post:
      operationId: adminCreateVideoUpload
      summary: Start uploading a lesson's video to Mux
      description: |
        Makes a Mux direct upload (CORS origin `CONTENT_APP_URL`) whose asset gets a `signed`
        playback policy and carries the lesson's id as `passthrough`, and answers with the URL
        the browser `PUT`s the file to. The lesson's video becomes `uploading` (a ready video
        stays `ready` and playable until the new one is). Mux reports the outcome through the
        webhook. No request body.

        Checked in this order: the lesson (404), whether uploads are configured (503
        `video_unavailable`), then Mux (502 `video_provider_error`).
      tags: [authoring]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "201":
          description: The upload
          content:
            application/json:
              schema:
                type: object
                required: [uploadId, url]
                properties:
                  uploadId: { type: string, description: "Mux's upload id" }
                  url: { type: string, format: uri, description: Where the browser `PUT`s the file }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404": { $ref: "#/components/responses/LessonNotFound" }
        "500": { $ref: "#/components/responses/InternalError" }
        "502":
          description: Mux could not be reached or refused the request (`video_provider_error`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "503":
          description: |
            Uploads are not configured here: `CONTENT_MUX_TOKEN_ID` or `CONTENT_MUX_TOKEN_SECRET`
            is not set (`video_unavailable`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
  /v1/content/webhooks/mux:
    post:
      operationId: muxWebhook
      summary: Receive a Mux event
      description: |
        The endpoint registered with Mux. The raw body (at most 256 KiB, read whatever the
        `Content-Type`) is checked against `Mux-Signature` with `CONTENT_MUX_WEBHOOK_SECRET`
        before anything is parsed; then it must be a JSON object with a string `id`, a string
        `type` and an object `data`. No access token.

        Each event id is handled once, in one transaction with the events it causes; `outcome`
        says what became of it:
        - `applied` — acted on;
        - `duplicate` — this event id was received before (whatever its outcome then); nothing
          changes;
        - `ignored` — a type content does not handle, or an asset whose `passthrough` names no
          lesson, or (`video.asset.ready`) without an asset id or a playback id.

        Handled types: `video.asset.ready` (the lesson's video becomes `ready` with the asset's
        signed playback id, and its duration, rounded to seconds, becomes the lesson's; publishes
        `content.video.ready.v1`) and `video.asset.errored` (the video becomes `errored` unless a
        ready one is kept, with Mux's messages as `error`; publishes `content.video.failed.v1`).
        A 4xx or 5xx records nothing, so Mux's retry is handled afresh.
      tags: [webhooks]
      parameters:
        - name: Mux-Signature
          in: header
          required: true
          description: |
            `t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the webhook's
            signing secret>`; several `v1` (while a secret rolls) are accepted if one matches. `t`
            must be within 300 seconds of content's clock. Any other value is answered with 400
            (`signature_missing`, `signature_malformed`, `signature_expired` or
            `signature_invalid`).
          schema: { type: string }
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/MuxEvent" }
      responses:
        "200":
          description: Received; `outcome` says what became of it
          content:
            application/json:
              schema:
                type: object
                required: [received, outcome]
                properties:
                  received: { type: boolean, const: true }
                  outcome: { type: string, enum: [applied, duplicate, ignored] }
        "400":
          description: |
            `signature_missing` — no or an empty `Mux-Signature`; `signature_malformed` — no `t`
            or no readable `v1` in it; `signature_expired` — `t` is more than 300 seconds away;
            `signature_invalid` — no `v1` matches the body; `malformed_request` — the body is not
            JSON, or not an object with a string `id`, a string `type` and an object `data`
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503":
          description: |
            Mux webhooks are not configured here, `CONTENT_MUX_WEBHOOK_SECRET` is not set
            (`video_unavailable`); checked before the body is read
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
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
    ModuleId:
      name: id
      in: path
      required: true
      description: The module's id, in either case; anything that is not a UUID is answered with 404 `not_found`
      schema: { type: string, format: uuid }
    LessonId:
      name: id
      in: path
      required: true
      description: The lesson's id, in either case; anything that is not a UUID is answered with 404 `not_found`
      schema: { type: string, format: uuid }
    AssetId:
      name: assetId
      in: path
      required: true
      description: The download's id, in either case; anything that is not a UUID is answered with 404 `not_found`
      schema: { type: string, format: uuid }
    PlanId:
      name: id
      in: path
      required: true
      description: |
        The plan's id, in either case. Anything that is not a UUID, and the id of another
        learner's plan, is answered with 404 `not_found`, like an unknown one
      schema: { type: string, format: uuid }
    Provider:
      name: provider
      in: path
      required: true
      description: "`notion` or `google-calendar`; anything else is answered with 404 `not_found`"
      schema: { type: string, enum: [notion, google-calendar] }
  responses:
    PayloadTooLarge:
      description: The body is over the limit (`payload_too_large`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    ModuleNotFound:
      description: No such module, or the id is not a UUID (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    LessonNotFound:
      description: No such lesson, or the id is not a UUID (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PublishedLessonNotFound:
      description: |
        No such lesson in the published outline — unknown, unpublished, in an unpublished module,
        or the id is not a UUID (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    LessonLocked:
      description: |
        The lesson is not open to the caller: `subscription_required` — a paid lesson and the
        caller has no access; `module_locked` — the caller has access but has not completed the
        module before this one
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InvalidOrder:
      description: |
        `validation_failed`: `ids` `required` (missing or empty); else each `ids[i]` `invalid_id`
        (not a UUID); else, every problem listed, `ids[i]` `duplicate_order` (named twice),
        `ids[i]` `unknown_id` (not one of the items being ordered) and `ids` `incomplete_order`
        (some are not named)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PlanRequestUnreadable:
      description: |
        `malformed_request` — the body is not a JSON object, or a property has the wrong type
        (e.g. `weeklyHours` not an integer, or too large for one); `invalid_character` — the body
        holds a NUL character, raw or as `\u0000`
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    InvalidPlanRequest:
      description: |
        `validation_failed`, every bad field listed: `topic` `invalid_length` (missing, or not 1
        to 200 characters once trimmed); `skillLevel` `invalid_choice` (missing or not one of
        `beginner`, `intermediate`, `advanced`); `learningStyle` `invalid_choice` (missing or not
        one of `reading`, `video`, `practice`, `mixed`); `weeklyHours` `out_of_range` (missing or
        not 1 to 80); `notes` `invalid_length` (over 2000 characters); `startDate`
        `invalid_date`, `deadlineDate` `invalid_date` (not a date); `deadlineDate`
        `before_start` (not after `startDate`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PlanQuotaExceeded:
      description: |
        The caller already has as many active (not archived) plans as their tier allows — `free`
        3, `starter` 10, `pro` unlimited — or has queued as many generations this month (UTC),
        archived plans' included — `free` 10, `starter` 40, `pro` 200 (`quota_exceeded`;
        `limit` and `detail` name the limit reached)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    GenerationCapacity:
      description: |
        The plans provider has cost the day's ceiling (`CONTENT_PLANS_DAILY_SPEND_CENTS`, across
        learners): no generation is queued until the next UTC day (`generation_capacity`;
        `retryAfter` and the `Retry-After` header give the seconds until then)
      headers:
        Retry-After:
          description: Seconds until the next UTC day
          schema: { type: integer, minimum: 1 }
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    TooManyStreams:
      description: |
        The caller already has as many plan streams open on this server as allowed, or the
        server as many in all (`too_many_streams`; `limit`: the streams a learner may have open)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    BodyUnreadable:
      description: |
        `malformed_request` — the body is not a JSON object, or a property has the wrong type;
        `invalid_character` — the body holds a NUL character, raw or as `\u0000`
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    ProviderNotFound:
      description: Not `notion` or `google-calendar` (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    ExportQuotaExceeded:
      description: |
        The caller has exported as many times this month (UTC) as their tier allows — `free` 10,
        `starter` 50, `pro` unlimited (`quota_exceeded`; `detail` names the limit)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    ExportConflict:
      description: |
        `integration_not_connected` — the caller has not connected the provider;
        `integration_unauthorized` — the caller must connect it again: the stored grant was
        sealed with a key no longer in use, or the provider no longer accepts it (it answered
        401 or 403, or Google refused to refresh it); `plan_not_ready` — the plan is not
        `ready` (it is being generated or regenerated, or failed)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    IntegrationFailed:
      description: |
        The provider could not be reached, or answered with an error other than refusing the
        grant, also after waiting out two rate limits (`integration_failed`; `detail` names its
        status)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    IntegrationUnavailable:
      description: |
        The provider is not set up on this server: `CONTENT_INTEGRATIONS_KEY`, or the provider's
        client id and secret (`CONTENT_NOTION_CLIENT_ID` and `CONTENT_NOTION_CLIENT_SECRET`,
        `CONTENT_GOOGLE_CLIENT_ID` and `CONTENT_GOOGLE_CLIENT_SECRET`), are not set
        (`integration_unavailable`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PlanNotFound:
      description: |
        No such plan of the caller — unknown, another learner's, or the id is not a UUID
        (`not_found`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PlanEventStream:
      description: |
        Server-sent events (`text/event-stream`) following the plan's generation, wherever its
        job runs. Each event is `event: <name>` and one `data:` line holding a JSON object (keys
        sorted), then a blank line; there are no `id:` or `retry:` fields. In order:

        1. `plan_start` — at once: `{planId, topic}` (`PlanStreamStart`).
        2. While the plan is `generating`, nothing: the stream reads the plan again whenever a
           generation attempt ends (a `NOTIFY` on `plan_progress`, listened to before the plan
           is read, so none is missed), for up to 300 seconds.
        3. When the plan is `ready`, for each module in order, `module_summary` —
           `{order, title, taskCount, estimatedMinutes}` (`PlanStreamModuleSummary`) — then
           `progress` — `{modulesDone, moduleCount}` (`PlanStreamProgress`); and last `complete`
           — `{planId, moduleCount, taskCount, durationMs}` (`PlanStreamComplete`), where
           `durationMs` is the time since the stream began.
        4. Otherwise a single `error` — `{planId, classification, retryable}`
           (`PlanStreamError`): for a `failed` plan, the last attempt's classification
           (`provider_error` when there is none) and `retryable` `false` (`POST
           /v1/plans/{id}/retry` can queue it again); for a plan still `generating` after 300
           seconds, the last attempt's classification (`timeout` when there is none) and
           `retryable` `true`, as its generation goes on.

        The stream ends after `complete` or `error`. If the plan is deleted meanwhile, it ends
        without either.
      headers:
        Cache-Control:
          schema: { type: string, const: no-store }
      content:
        text/event-stream:
          schema:
            description: One server-sent event; `data` is the event's JSON object, as text.
            type: object
            required: [event, data]
            properties:
              event: { type: string, enum: [plan_start, module_summary, progress, complete, error] }
              data: { type: string }
          example: |
            event: plan_start
            data: {"planId":"01a2bbed-ab9f-7a3c-9d42-6e8f1b0c7a53","topic":"SwiftUI"}

            event: module_summary
            data: {"estimatedMinutes":240,"order":1,"taskCount":3,"title":"Foundations of SwiftUI"}

            event: progress
            data: {"moduleCount":4,"modulesDone":1}

            event: module_summary
            data: {"estimatedMinutes":240,"order":2,"taskCount":3,"title":"Core techniques in SwiftUI"}

            event: progress
            data: {"moduleCount":4,"modulesDone":2}

            event: module_summary
            data: {"estimatedMinutes":240,"order":3,"taskCount":3,"title":"Working with SwiftUI in practice"}

            event: progress
            data: {"moduleCount":4,"modulesDone":3}

            event: module_summary
            data: {"estimatedMinutes":240,"order":4,"taskCount":3,"title":"A project in SwiftUI"}

            event: progress
            data: {"moduleCount":4,"modulesDone":4}

            event: complete
            data: {"durationMs":812,"moduleCount":4,"planId":"01a2bbed-ab9f-7a3c-9d42-6e8f1b0c7a53","taskCount":12}
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
    LearnerCourse:
      type: object
      required: [hasAccess, tier, modules]
      properties:
        hasAccess: { type: boolean, description: Whether the caller may open paid lessons (billing's entitlement) }
        tier: { type: string, description: "Billing's tier for the caller: `free` (also before billing has decided), `starter` or `pro`" }
        modules:
          type: array
          description: The published modules that have at least one published lesson, in course order
          items: { $ref: "#/components/schemas/LearnerModule" }
    LearnerModule:
      type: object
      required: [id, title, description, order, unlocked, completed, lessons]
      properties:
        id: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        description: { type: string }
        order: { type: integer, minimum: 1, description: "1-based among the published modules, without gaps" }
        unlocked: { type: boolean, description: The first module, or the one before it is complete }
        completed: { type: boolean, description: Every published lesson of it completed, as progress reports }
        lessons:
          type: array
          minItems: 1
          description: Its published lessons, in order
          items: { $ref: "#/components/schemas/LearnerLesson" }
    LearnerLesson:
      type: object
      required: [id, title, order, isFree, hasVideo, unlocked]
      properties:
        id: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        order: { type: integer, minimum: 1, description: "1-based among the module's published lessons, without gaps" }
        isFree: { type: boolean }
        durationSeconds: { type: integer, minimum: 0, description: Left out until known }
        hasVideo: { type: boolean, description: A video is ready to play }
        unlocked: { type: boolean, description: The caller may open it }
        lockReason: { $ref: "#/components/schemas/LockReason" }
    LockReason:
      type: string
      description: Why a lesson is closed to the caller; left out when it is open
      enum: [subscription_required, module_locked]
    LessonContent:
      type: object
      required: [id, moduleId, title, order, isFree, hasVideo, body, assets]
      properties:
        id: { type: string, format: uuid, description: Lower case }
        moduleId: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        order: { type: integer, minimum: 1, description: "1-based among the module's published lessons" }
        isFree: { type: boolean }
        durationSeconds: { type: integer, minimum: 0, description: Left out until known }
        hasVideo: { type: boolean, description: "A video is ready: `GET /v1/lessons/{id}/playback` plays it" }
        body: { $ref: "#/components/schemas/TipTapDocument" }
        assets:
          type: array
          description: Its downloads, oldest first
          items: { $ref: "#/components/schemas/Asset" }
    PlaybackGrant:
      type: object
      required: [playbackId, streamUrl, thumbnailUrl, token, thumbnailToken, expiresAt]
      properties:
        playbackId: { type: string, description: "Mux's playback id (signed policy)" }
        streamUrl: { type: string, format: uri, description: "`<CONTENT_MUX_STREAM_URL>/<playbackId>.m3u8?token=<token>` (HLS)" }
        thumbnailUrl: { type: string, format: uri, description: "`<CONTENT_MUX_IMAGE_URL>/<playbackId>/thumbnail.jpg?token=<thumbnailToken>`" }
        token: { type: string, description: "RS256 JWT for the stream (`aud` `v`)" }
        thumbnailToken: { type: string, description: "RS256 JWT for the thumbnail (`aud` `t`)" }
        expiresAt: { type: string, format: date-time, description: When both tokens expire, one hour after issue }
    ModuleList:
      type: object
      required: [modules]
      properties:
        modules:
          type: array
          description: Every module, in course order
          items: { $ref: "#/components/schemas/Module" }
    Module:
      type: object
      description: A module as its author sees it, unpublished lessons included.
      required: [id, title, description, order, published, lessons]
      properties:
        id: { type: string, format: uuid }
        title: { type: string }
        description: { type: string, description: Empty when none }
        order: { type: integer, minimum: 1, description: "1-based place among all modules, without gaps" }
        published: { type: boolean }
        lessons:
          type: array
          description: Every lesson of the module, in order
          items: { $ref: "#/components/schemas/LessonSummary" }
    LessonSummary:
      type: object
      required: [id, title, order, published, isFree, videoStatus]
      properties:
        id: { type: string, format: uuid }
        title: { type: string }
        order: { type: integer, minimum: 1, description: "1-based place in its module, without gaps" }
        published: { type: boolean, description: "Its own flag; learners see it only while its module is published too" }
        isFree: { type: boolean }
        durationSeconds: { type: integer, minimum: 0, description: Left out until known }
        videoStatus: { $ref: "#/components/schemas/VideoStatus" }
    Lesson:
      type: object
      description: A lesson as its author sees it.
      required: [id, moduleId, title, order, published, isFree, body, video, assets]
      properties:
        id: { type: string, format: uuid }
        moduleId: { type: string, format: uuid }
        title: { type: string }
        order: { type: integer, minimum: 1, description: "1-based place in its module, without gaps" }
        published: { type: boolean, description: "Its own flag; learners see it only while its module is published too" }
        isFree: { type: boolean }
        durationSeconds: { type: integer, minimum: 0, description: Left out until known }
        body: { $ref: "#/components/schemas/TipTapDocument" }
        video: { $ref: "#/components/schemas/Video" }
        assets:
          type: array
          description: Its downloads, oldest first
          items: { $ref: "#/components/schemas/Asset" }
    Video:
      type: object
      required: [status]
      properties:
        status: { $ref: "#/components/schemas/VideoStatus" }
        assetId: { type: string, description: "Mux's asset id of the playable video; left out before one is ready" }
        playbackId: { type: string, description: "Mux's playback id (signed policy); left out before a video is ready" }
        error: { type: string, description: "Mux's explanation of the last failed upload; cleared by a new upload or a ready video" }
    VideoStatus:
      type: string
      description: |
        `none` — no video yet; `uploading` — an upload was started and Mux has not reported on
        it; `ready` — a video can be played (also while a replacement uploads, or after it
        failed); `errored` — Mux could not process the upload and there is no video to play
      enum: [none, uploading, ready, errored]
    Asset:
      type: object
      description: A download of a lesson.
      required: [id, title, url, type, sizeBytes]
      properties:
        id: { type: string, format: uuid }
        title: { type: string }
        url: { type: string, description: An absolute `http` or `https` URL }
        type: { type: string, description: "A media type, e.g. `application/pdf`" }
        sizeBytes: { type: integer, minimum: 0 }
    OrderRequest:
      type: object
      required: [ids]
      properties:
        ids:
          type: array
          minItems: 1
          description: Every id exactly once, in the new order
          items: { type: string, format: uuid }
    TipTapDocument:
      type: object
      description: |
        A lesson body: a TipTap (ProseMirror) JSON document in the schema of the course's editor,
        StarterKit's nodes and marks plus links, underline, highlight and images. Checked in full
        before anything is stored; each problem (up to 50) is a `validation_failed` error whose
        `field` is `body` followed by a JSON pointer into the document, e.g.
        `body/content/0/attrs/level`.

        The root is `{"type": "doc", "content": [blocks…]}` (no other fields, no attributes).
        Every node is an object with `type` and, as it allows, `attrs`, `content`, `marks` and
        (text nodes only) `text`:

        | node | kind | content | attributes |
        | --- | --- | --- | --- |
        | `paragraph` | block | inline nodes | `textAlign` (`left`, `center`, `right`, `justify`) |
        | `heading` | block | inline nodes | `level` 1–6 (required), `textAlign` |
        | `blockquote` | block | one or more blocks | |
        | `bulletList` | block | one or more `listItem` | |
        | `orderedList` | block | one or more `listItem` | `start` 1–1000000, `type` (≤ 8 characters) |
        | `listItem` | list item | a `paragraph`, then blocks | |
        | `codeBlock` | block | `text` without marks | `language` (≤ 40 characters) |
        | `horizontalRule` | block | none | |
        | `image` | block | none | `src` `http(s)` URL (required), `alt`, `title` (≤ 500 characters) |
        | `text` | inline | none; non-empty `text` | marks |
        | `hardBreak` | inline | none | |

        Marks (on `text` only, each at most once): `bold`, `italic`, `underline`, `strike`,
        `code`, `highlight` (`color`, ≤ 32 characters), `link` (`href` an `http`, `https` or
        `mailto` URL, required; `target` `_blank` or `_self`; `rel`, `class` ≤ 100 characters).
        URLs are at most 2048 characters. At most 20000 nodes, nested at most 24 deep.

        Codes: `not_a_document`, `unknown_field`, `invalid_node`, `unknown_node_type`,
        `misplaced_node`, `invalid_content`, `empty_content`, `leaf_has_content`, `empty_text`,
        `invalid_attributes`, `unknown_attribute`, `missing_attribute`, `invalid_attribute`,
        `invalid_url`, `invalid_marks`, `invalid_mark`, `unknown_mark_type`, `duplicate_mark`,
        `mark_not_allowed`, `too_deep`, `too_large`.
      required: [type, content]
      properties:
        type: { type: string, const: doc }
        content:
          type: array
          minItems: 1
          items: { $ref: "#/components/schemas/TipTapNode" }
      example:
        type: doc
        content:
          - type: heading
            attrs: { level: 2 }
            content: [{ type: text, text: Welcome }]
          - type: paragraph
            content:
              - { type: text, text: "Read the " }
              - type: text
                text: notes
                marks: [{ type: link, attrs: { href: "https://example.com/notes" } }]
    TipTapNode:
      type: object
      description: A node of a TipTap document; its `content` holds nodes of the same shape.
      required: [type]
      properties:
        type:
          type: string
          enum: [paragraph, heading, blockquote, bulletList, orderedList, listItem, codeBlock, horizontalRule, image, text, hardBreak]
        attrs: { type: [object, "null"], description: "`null` or `{}` when it has none" }
        content:
          type: [array, "null"]
          items: { type: object }
        marks:
          type: [array, "null"]
          description: Text nodes only; `null` or empty on others
          items:
            type: object
            required: [type]
            properties:
              type: { type: string, enum: [bold, italic, underline, strike, code, highlight, link] }
              attrs: { type: [object, "null"] }
        text: { type: string, minLength: 1 }
    PlanRequest:
      type: object
      description: What a learner asks a plan for. A property that is `null` counts as absent.
      required: [topic, skillLevel, weeklyHours, learningStyle]
      properties:
        topic: { type: string, minLength: 1, maxLength: 200, description: "What to learn: 1 to 200 characters once trimmed; stored trimmed" }
        skillLevel: { $ref: "#/components/schemas/SkillLevel" }
        weeklyHours: { type: integer, minimum: 1, maximum: 80, description: Hours a week the learner can give it }
        learningStyle: { $ref: "#/components/schemas/LearningStyle" }
        notes: { type: string, maxLength: 2000, description: "Anything else the plan should consider; at most 2000 characters" }
        startDate: { type: string, format: date, description: "When the learner starts, `YYYY-MM-DD`", example: "2026-12-01" }
        deadlineDate: { type: string, format: date, description: "When the learner wants to be done, `YYYY-MM-DD`, after `startDate` when both are given", example: "2027-03-01" }
    PlanChanges:
      type: object
      description: |
        What a regeneration changes of the plan's request; every property optional, those
        present replace the plan's (a property that is `null` counts as absent, so `notes` cannot
        be removed, only replaced). The topic and dates cannot be changed.
      properties:
        skillLevel: { $ref: "#/components/schemas/SkillLevel" }
        weeklyHours: { type: integer, minimum: 1, maximum: 80 }
        learningStyle: { $ref: "#/components/schemas/LearningStyle" }
        notes: { type: string, maxLength: 2000, description: At most 2000 characters }
    SkillLevel:
      type: string
      enum: [beginner, intermediate, advanced]
    LearningStyle:
      type: string
      enum: [reading, video, practice, mixed]
    PlanList:
      type: object
      required: [plans]
      properties:
        plans:
          type: array
          description: The caller's plans, newest first, each without `modules`
          items: { $ref: "#/components/schemas/Plan" }
    Plan:
      type: object
      description: |
        A learning plan as its learner asked for it, with its generation's state. `modules` is
        left out in lists and in the answer to `POST /v1/plans`, and present on one plan read
        on its own.
      required: [id, topic, skillLevel, weeklyHours, learningStyle, generationStatus, archived, createdAt]
      properties:
        id: { type: string, format: uuid, description: Lower case }
        topic: { type: string, minLength: 1, maxLength: 200, description: As asked for, trimmed }
        skillLevel: { $ref: "#/components/schemas/SkillLevel" }
        weeklyHours: { type: integer, minimum: 1, maximum: 80 }
        learningStyle: { $ref: "#/components/schemas/LearningStyle" }
        notes: { type: string, maxLength: 2000, description: Left out when none were given }
        startDate: { type: string, format: date, description: "`YYYY-MM-DD`; left out when none was given" }
        deadlineDate: { type: string, format: date, description: "`YYYY-MM-DD`; left out when none was given" }
        generationStatus: { $ref: "#/components/schemas/GenerationStatus" }
        archived: { type: boolean, description: "Archived plans stay readable and do not count against the tier's limit" }
        createdAt: { type: string, format: date-time }
        modules:
          type: array
          description: |
            The generated modules in order; empty until the plan is first generated, kept while
            it is regenerated until new ones replace them
          items: { $ref: "#/components/schemas/PlanModule" }
    PlanWithModules:
      description: A plan with its `modules`, as read on its own.
      allOf:
        - $ref: "#/components/schemas/Plan"
        - type: object
          required: [modules]
    GenerationStatus:
      type: string
      description: |
        `generating` — queued or under way (also between attempts); `ready` — generated, its
        modules stored; `failed` — every attempt failed, or one failed in a way another attempt
        would not mend
      enum: [generating, ready, failed]
    PlanModule:
      type: object
      required: [id, order, title, description, estimatedMinutes, tasks]
      properties:
        id: { type: string, format: uuid, description: Lower case }
        order: { type: integer, minimum: 1, description: "1-based place in the plan, without gaps" }
        title: { type: string }
        description: { type: string }
        estimatedMinutes: { type: integer, minimum: 15, maximum: 480, description: "Its tasks' minutes added up, kept within 15–480" }
        tasks:
          type: array
          minItems: 1
          description: Its tasks, in order
          items: { $ref: "#/components/schemas/PlanTask" }
    PlanTask:
      type: object
      required: [id, order, title, description, estimatedMinutes, resources]
      properties:
        id: { type: string, format: uuid, description: Lower case }
        order: { type: integer, minimum: 1, description: "1-based place in its module, without gaps" }
        title: { type: string }
        description: { type: string }
        estimatedMinutes: { type: integer, minimum: 5, maximum: 120, description: "As generated, kept within 5–120" }
        resources:
          type: array
          description: Where to learn it, in order
          items: { $ref: "#/components/schemas/PlanResource" }
    PlanResource:
      type: object
      required: [order, type, title, url]
      properties:
        order: { type: integer, minimum: 1, description: "1-based place among the task's resources, without gaps" }
        type: { type: string, enum: [youtube, article, course, doc, other] }
        title: { type: string }
        url: { type: string }
        notes: { type: string, description: Left out when none }
    AttemptList:
      type: object
      required: [attempts]
      properties:
        attempts:
          type: array
          description: Every generation attempt of the plan, oldest first
          items: { $ref: "#/components/schemas/Attempt" }
    Attempt:
      type: object
      required: [attempt, outcome, durationMs, provider, model, costCents, createdAt]
      properties:
        attempt: { type: integer, minimum: 1, description: "The number of the attempt within its job, from 1; a retry's job counts from 1 again" }
        outcome: { type: string, enum: [success, failure] }
        classification: { $ref: "#/components/schemas/FailureClassification", description: Left out on success }
        message: { type: string, description: "Why it failed, for people (at most 500 characters); left out on success" }
        durationMs: { type: integer, minimum: 0 }
        provider: { type: string, description: "The generator: `offline`, or `openai-compatible` when `CONTENT_PLANS_PROVIDER_URL` is set" }
        model: { type: string, description: "`syllabus-offline-1`, or the provider's model (`CONTENT_PLANS_PROVIDER_MODEL`)" }
        costCents: { type: integer, minimum: 0 }
        createdAt: { type: string, format: date-time }
    FailureClassification:
      type: string
      description: |
        Why a generation attempt failed. `provider_error`, `rate_limit` and `timeout` may succeed
        later and are tried again; `validation` (the generated plan had no module, or a module
        without tasks) and `capped` are not
      enum: [validation, provider_error, rate_limit, timeout, capped]
    PlanStreamStart:
      type: object
      description: "`data` of the stream's `plan_start` event"
      required: [planId, topic]
      properties:
        planId: { type: string, format: uuid }
        topic: { type: string }
    PlanStreamModuleSummary:
      type: object
      description: "`data` of a `module_summary` event: one module of a `ready` plan"
      required: [order, title, taskCount, estimatedMinutes]
      properties:
        order: { type: integer, minimum: 1 }
        title: { type: string }
        taskCount: { type: integer, minimum: 1 }
        estimatedMinutes: { type: integer, minimum: 15, maximum: 480 }
    PlanStreamProgress:
      type: object
      description: "`data` of a `progress` event, after each `module_summary`"
      required: [modulesDone, moduleCount]
      properties:
        modulesDone: { type: integer, minimum: 1 }
        moduleCount: { type: integer, minimum: 1 }
    PlanStreamComplete:
      type: object
      description: "`data` of the `complete` event, the last of a `ready` plan's stream"
      required: [planId, moduleCount, taskCount, durationMs]
      properties:
        planId: { type: string, format: uuid }
        moduleCount: { type: integer, minimum: 1 }
        taskCount: { type: integer, minimum: 1 }
        durationMs: { type: integer, minimum: 0, description: Milliseconds since the stream began }
    PlanStreamError:
      type: object
      description: "`data` of the `error` event, the last of a stream whose plan did not become `ready`"
      required: [planId, classification, retryable]
      properties:
        planId: { type: string, format: uuid }
        classification: { $ref: "#/components/schemas/FailureClassification" }
        retryable:
          type: boolean
          description: |
            `true` when the plan is still `generating` (the stream gave up after 300 seconds, the
            generation goes on); `false` when it `failed`
    PlanSchedule:
      type: object
      description: A plan's tasks laid out over weeks (see `GET /v1/plans/{id}/schedule`).
      required: [planId, timeZone, weeklyHours, startDate, weeks, unscheduled, fits]
      properties:
        planId: { type: string, format: uuid, description: Lower case }
        timeZone: { type: string, description: "The learner's time zone, an IANA name such as `Europe/Berlin`; UTC until they set one", example: Europe/Berlin }
        weeklyHours: { type: integer, minimum: 1, maximum: 80 }
        startDate: { type: string, format: date, description: "The plan's `startDate`, else the day it was created in `timeZone`" }
        deadlineDate: { type: string, format: date, description: "The plan's; left out when none was given" }
        maxWeeks: { type: integer, minimum: 1, description: "The most weeks the schedule may use, the tier's or the deadline's, whichever is fewer; left out when unlimited" }
        weeks:
          type: array
          description: The weeks that hold tasks, in order, numbered 1… without gaps
          items: { $ref: "#/components/schemas/ScheduleWeek" }
        unscheduled:
          type: array
          description: The tasks that do not fit, in plan order
          items: { $ref: "#/components/schemas/UnscheduledTask" }
        fits: { type: boolean, description: "Every task is scheduled (`unscheduled` is empty)" }
    ScheduleWeek:
      type: object
      required: [week, startDate, endDate, plannedMinutes, tasks]
      properties:
        week: { type: integer, minimum: 1, description: "1-based, from the schedule's `startDate`" }
        startDate: { type: string, format: date, description: Its first day }
        endDate: { type: string, format: date, description: "Its last day, six days after `startDate`" }
        plannedMinutes: { type: integer, minimum: 5, description: "Its tasks' minutes added up" }
        tasks:
          type: array
          minItems: 1
          description: Its tasks, in plan order
          items: { $ref: "#/components/schemas/ScheduledTask" }
    ScheduledTask:
      type: object
      required: [taskId, moduleId, title, estimatedMinutes, date, startsAt, endsAt]
      properties:
        taskId: { type: string, format: uuid, description: Lower case }
        moduleId: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        estimatedMinutes: { type: integer, minimum: 5, maximum: 120 }
        date: { type: string, format: date, description: "The day, in the schedule's `timeZone`" }
        startsAt: { type: string, format: date-time }
        endsAt: { type: string, format: date-time, description: "`estimatedMinutes` after `startsAt`" }
    UnscheduledTask:
      type: object
      required: [taskId, title, estimatedMinutes]
      properties:
        taskId: { type: string, format: uuid, description: Lower case }
        title: { type: string }
        estimatedMinutes: { type: integer, minimum: 5, maximum: 120 }
    CalendarFeed:
      type: object
      required: [url]
      properties:
        url:
          type: string
          format: uri
          description: |
            `<CONTENT_PUBLIC_URL>/v1/calendar-feeds/<token>.ics`, to subscribe to; shown once
          example: https://syllabus.example.com/v1/calendar-feeds/kXq3v0mJ9sYb2Wn8TzR4pLc6Hd1Ue7Fa5Gi0Oj2Ks9M.ics
    ConnectionList:
      type: object
      required: [integrations]
      properties:
        integrations:
          type: array
          description: The caller's connections, in order of `provider`
          items: { $ref: "#/components/schemas/Connection" }
    Connection:
      type: object
      description: A learner's connection to a provider; its tokens are never shown.
      required: [provider, connectedAt]
      properties:
        provider: { type: string, enum: [notion, google_calendar] }
        account: { type: string, description: "The Notion workspace's name; left out when the provider does not say (Google)" }
        expiresAt: { type: string, format: date-time, description: "When the access token expires (Google's, refreshed when used); left out when it does not (Notion)" }
        connectedAt:
          type: string
          format: date-time
          description: |
            When the provider was first connected (connecting again keeps it); in the answer to
            connecting, the time of that request
    Export:
      type: object
      description: What an export or sync did.
      required: [destination, itemCount, created, updated, deleted]
      properties:
        destination: { type: string, enum: [notion, google_calendar] }
        itemCount: { type: integer, minimum: 0, description: "Notion: the pages created; Google Calendar: the events created, updated and deleted" }
        url: { type: string, description: "Notion: the plan's new page; left out for Google Calendar, and when Notion gives none" }
        created: { type: integer, minimum: 0, description: Pages or events created }
        updated: { type: integer, minimum: 0, description: "Events updated (always 0 for Notion)" }
        deleted: { type: integer, minimum: 0, description: "Events of tasks no longer scheduled, deleted (always 0 for Notion)" }
    MuxEvent:
      type: object
      description: A Mux webhook event as Mux posts it; only these properties are read.
      required: [id, type, data]
      properties:
        id: { type: string, description: The event id; each is handled once }
        type: { type: string, description: "e.g. `video.asset.ready`" }
        data:
          type: object
          description: The asset
          properties:
            id: { type: string, description: "The asset id" }
            passthrough: { type: string, description: "The lesson's id, as the upload set it" }
            playback_ids:
              type: array
              description: The first `signed` one is used, else the first
              items:
                type: object
                properties:
                  id: { type: string }
                  policy: { type: string }
            duration: { type: number, description: Seconds }
            errors:
              type: object
              description: "`video.asset.errored`: Mux's explanation"
              properties:
                type: { type: string }
                messages:
                  type: array
                  items: { type: string }
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
