// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.
public enum AnalyticsOpenAPI {
    public static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus analytics service
  version: 0.1.0
  description: |
    Product analytics: what learners do, as product events, and the reports operators read from
    them (funnels, MRR through time, active learners, event counts). Server-side product events
    are derived from the public event contract alone — analytics consumes the same events an
    outside subscriber could, and nothing else of the other services; apps send their own events
    (`signup_started`, `paywall_viewed`, `subscription_plan_selected`) to
    `POST /v1/analytics/events`, anonymously or signed in. Analytics publishes no events.

    Access tokens are ES256 JWTs issued by identity and verified locally against the key set in
    `JWT_JWKS_FILE`; the tokens of a user whose `identity.user.deleted.v1` has arrived are refused.
    Sending events needs no token; the reports are for admins only.

    The request body of `POST /v1/analytics/events` is a JSON object (`Content-Type` is not
    checked); unknown properties are ignored. A body that is not JSON, or a property of the wrong
    type, is answered with 400 `malformed_request`; a missing or invalid value with 422
    `validation_failed`, which lists each field in `errors`; a body over 64 KiB with 413
    `payload_too_large`. Any request body is read first, whatever the route: one over 2 MiB is
    answered with 413 `payload_too_large`, one with a NUL character (a raw NUL byte, or `\u0000`
    escaped) with 400 `invalid_character`.

    Responses are JSON with camelCase names, keys in alphabetical order, or CSV where the report
    is asked for with `format=csv`; times are RFC 3339 strings in UTC with fractional seconds;
    optional properties without a value are left out (never `null`). Ids are UUIDs, written in
    lower case. Reports work in UTC: days start at midnight UTC, weeks on Monday, months on the
    first.

    Errors are RFC 9457 `application/problem+json` with a stable `code`. A path or method not
    listed here is answered with 404 `not_found`; an unexpected failure (for example the database
    being unreachable) with 500 `internal_error`.
servers:
  - url: http://127.0.0.1:8086
tags:
  - name: events
    description: Product events sent by apps
  - name: reports
    description: Funnels, MRR, active learners and event counts, for admins
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/analytics/events:
    post:
      operationId: collectEvents
      summary: Send a batch of product events from an app
      description: |
        Records apps' own product events, 1 to 50 per request, all of one session. Without an
        `Authorization` header the events are anonymous, kept with their `sessionId` only; with
        one, the token must be valid (else 401) and the events are the user's. Signing in stitches
        the session: the session's earlier anonymous events become the user's too.

        Only the client events may be sent: `signup_started` (no required property),
        `paywall_viewed` (`placement`, a non-empty string) and `subscription_plan_selected`
        (`tier` `starter` or `pro`, `interval` `MONTHLY` or `ANNUAL`). The other tracked events
        are recorded from the server's own events and are refused here (`server_event`).

        Each event needs `timestamp`, when it happened: at most 5 minutes ahead of the server's
        clock and at most 7 days old. `properties` holds at most 20 entries, each named with 1 to
        40 letters, digits or `_`, and valued with a string (at most 200 characters), a number or
        a boolean. `id`, optional, makes a retry harmless: an event with the same `id` from the
        same session is accepted again but recorded once (without `id`, each event is new).

        The whole batch is refused (422) if any event is invalid, and nothing is recorded. Each
        session may send `ANALYTICS_RATE_LIMIT` events (120 by default) per minute, and each client
        address `ANALYTICS_ADDRESS_RATE_LIMIT` (1,200 by default) whatever sessions it names (an
        IPv6 address counts by its /64; `X-Forwarded-For` is believed only from the proxies in
        `ANALYTICS_TRUSTED_PROXIES`); a batch that would go over either is refused whole (429) and
        counted against neither.

        Checked in this order: the body's size up to 2 MiB (413) and NUL characters (400
        `invalid_character`), the token when there is an `Authorization` header (401), the body's
        size up to 64 KiB (413) and shape (400 `malformed_request`), the values (422), then the
        session's and the address's rates (429).
      tags: [events]
      security:
        - {}
        - bearerAuth: []
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Batch" }
      responses:
        "202":
          description: Accepted; `recorded` of them were new
          content:
            application/json:
              schema:
                type: object
                required: [accepted, recorded]
                properties:
                  accepted: { type: integer, minimum: 1, maximum: 50, description: Every event of the batch }
                  recorded:
                    type: integer
                    minimum: 0
                    maximum: 50
                    description: The events recorded now; an event sent before (same `id`, same session) is accepted but not recorded again
                  userId: { type: string, format: uuid, description: The signed-in user the events were recorded for; left out for anonymous events }
        "400":
          description: |
            `malformed_request` — the body is not JSON, not an object, or a property has the wrong
            type (`sessionId`, `id`, `event` or `timestamp` not a string, `events` not an array of
            objects, `properties` not an object); `invalid_character` — the body contains a NUL
            character
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
        "422":
          description: |
            `validation_failed`, every problem listed in `errors`: `sessionId` `invalid_session`
            (missing, or not 16 to 128 letters, digits, `-` or `_`); `events` `required` (missing or
            empty) or `too_many` (over 50; only the first 50 are checked further); and for each
            event, `events[i].event` `unknown_event` (missing or not a tracked event) or
            `server_event` (a server-side event); `events[i].timestamp` `required`,
            `invalid_timestamp` (not RFC 3339), `in_the_future` (more than 5 minutes ahead) or
            `too_old` (more than 7 days old); `events[i].id` `invalid_id` (not a UUID);
            `events[i].properties` `too_many` (over 20); `events[i].properties.<name>`
            `invalid_name` (not 1 to 40 letters, digits or `_`), `too_long` (a string over 200
            characters), `invalid_value` (not a string, number or boolean), `required` (a property
            the event needs is missing, empty or not a string) or `invalid_choice` (not one of the
            allowed values). An event with `unknown_event` or `server_event` is not checked further
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "429":
          description: The session or the client address has sent its events for this minute (`rate_limited`); nothing of the batch is recorded
          headers:
            Retry-After:
              description: Seconds until the next minute starts
              schema: { type: integer, minimum: 1, maximum: 60 }
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/analytics/admin/funnel:
    get:
      operationId: adminFunnel
      summary: How many users went through a sequence of events
      description: |
        For each step, the users who did it, in order: the first step at least once within
        [`from`, `to`), each later step at or after the time the user first did the step before
        it, and before `to`. Only events with a user count: anonymous client events count once
        their session has been stitched to a user by a signed-in request, and the events of a
        deleted user, anonymised, no longer count. `conversionFromPrevious` is a step's users over
        the previous step's (1 for the first step), `conversionFromFirst` over the first step's;
        both are 0 when the step they divide by has no users.

        The window is checked like the other reports', `interval` included (a window of more
        than 1000 days needs `interval=week` or `month`), though a funnel has no buckets.

        With `format=csv`: the header `step,event,users,conversion_from_previous,conversion_from_first`,
        then one row per step, numbered from 1.
      tags: [reports]
      security:
        - bearerAuth: [admin]
      parameters:
        - name: steps
          in: query
          required: true
          description: |
            2 to 10 tracked events (server or client), comma-separated, in order; spaces around a
            name are ignored.
          schema: { type: string }
          example: signup_completed,video_1_started,video_1_completed,paywall_viewed,subscription_started
        - $ref: "#/components/parameters/From"
        - $ref: "#/components/parameters/To"
        - $ref: "#/components/parameters/Interval"
        - $ref: "#/components/parameters/Format"
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The steps
          content:
            application/json:
              schema:
                type: object
                required: [from, to, steps]
                properties:
                  from: { type: string, format: date-time }
                  to: { type: string, format: date-time }
                  steps:
                    type: array
                    minItems: 2
                    maxItems: 10
                    items: { $ref: "#/components/schemas/FunnelStep" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "422":
          description: |
            `validation_failed`, every bad parameter listed: `steps` `unknown_event` (a name that
            is not a tracked event, one error each) and/or `invalid_steps` (missing, or not 2 to 10
            names); and the window's and `format`'s errors, as for every report
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/analytics/admin/mrr:
    get:
      operationId: adminMRR
      summary: Monthly recurring revenue through time
      description: |
        MRR at the end of each bucket (at `to` for the last), rebuilt from billing's subscription
        events: at each moment, each subscription is in the newest state (by `sequence`) billing
        had announced by then. `ACTIVE` subscriptions only, with a catalogue price; a monthly price
        counts as it is and an annual one as a twelfth, summed exactly in twelfths and rounded
        once, half up, as billing rounds (`GET /v1/billing/admin/metrics`). In minor units.

        With `format=csv`: the header `bucket,at,mrr,active_subscriptions`, then one row per
        bucket.
      tags: [reports]
      security:
        - bearerAuth: [admin]
      parameters:
        - $ref: "#/components/parameters/From"
        - $ref: "#/components/parameters/To"
        - $ref: "#/components/parameters/Interval"
        - $ref: "#/components/parameters/Format"
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: One point per bucket, oldest first
          content:
            application/json:
              schema:
                allOf:
                  - $ref: "#/components/schemas/Series"
                  - type: object
                    properties:
                      points:
                        type: array
                        items: { $ref: "#/components/schemas/MRRPoint" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "422": { $ref: "#/components/responses/InvalidReport" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/analytics/admin/active-learners:
    get:
      operationId: adminActiveLearners
      summary: Learners who started or completed a lesson, per bucket
      description: |
        For each bucket, the distinct users with a `lesson_started` or `lesson_completed` event in
        it; the first and last buckets are cut to [`from`, `to`). A deleted user's events,
        anonymised, no longer count.

        With `format=csv`: the header `bucket,active_learners`, then one row per bucket.
      tags: [reports]
      security:
        - bearerAuth: [admin]
      parameters:
        - $ref: "#/components/parameters/From"
        - $ref: "#/components/parameters/To"
        - $ref: "#/components/parameters/Interval"
        - $ref: "#/components/parameters/Format"
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: One point per bucket, oldest first
          content:
            application/json:
              schema:
                allOf:
                  - $ref: "#/components/schemas/Series"
                  - type: object
                    properties:
                      points:
                        type: array
                        items: { $ref: "#/components/schemas/ActivePoint" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "422": { $ref: "#/components/responses/InvalidReport" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/analytics/admin/counts:
    get:
      operationId: adminCounts
      summary: How many of each event, per bucket
      description: |
        For each bucket and event, how many events were recorded in it (anonymous and anonymised
        ones included); the first and last buckets are cut to [`from`, `to`). A bucket and event
        with none is left out. Points are ordered by bucket, then event.

        With `format=csv`: the header `bucket,event,count`, then one row per point.
      tags: [reports]
      security:
        - bearerAuth: [admin]
      parameters:
        - name: events
          in: query
          required: false
          description: |
            The tracked events to count, comma-separated (no spaces); every tracked event when
            left out, none when empty.
          schema: { type: string }
          example: lesson_started,lesson_completed
        - $ref: "#/components/parameters/From"
        - $ref: "#/components/parameters/To"
        - $ref: "#/components/parameters/Interval"
        - $ref: "#/components/parameters/Format"
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The counts, by bucket, then event
          content:
            application/json:
              schema:
                allOf:
                  - $ref: "#/components/schemas/Series"
                  - type: object
                    properties:
                      points:
                        type: array
                        items: { $ref: "#/components/schemas/CountPoint" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "422":
          description: |
            `validation_failed`, every bad parameter listed: `events` `unknown_event` (a name that
            is not a tracked event, one error each); and the window's and `format`'s errors, as for
            every report
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/analytics/admin/users/{id}/events:
    parameters:
      - name: id
        in: path
        required: true
        description: The user
        schema: { type: string, format: uuid }
    get:
      operationId: adminUserEvents
      summary: One user's events, in the order they happened
      description: |
        The user's recorded events (server and client ones), oldest first; at most the last 1000.
        A deleted user's events are anonymised and are no longer theirs.
      tags: [reports]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The user's events
          content:
            application/json:
              schema:
                type: object
                required: [userId, events]
                properties:
                  userId: { type: string, format: uuid }
                  events:
                    type: array
                    items: { $ref: "#/components/schemas/RecordedEvent" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404":
          description: "`not_found`: the id is not a UUID"
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
    From:
      name: from
      in: query
      required: false
      description: |
        The window's start, included: an RFC 3339 time or a date (`2026-11-01`, midnight UTC).
        30 days before `to` when left out.
      schema:
        anyOf:
          - { type: string, format: date-time }
          - { type: string, format: date }
    To:
      name: to
      in: query
      required: false
      description: |
        The window's end, excluded: an RFC 3339 time or a date (midnight UTC). Now when left out.
      schema:
        anyOf:
          - { type: string, format: date-time }
          - { type: string, format: date }
    Interval:
      name: interval
      in: query
      required: false
      description: |
        The buckets: calendar days, weeks (from Monday) or months, in UTC. The first bucket starts
        at the beginning of the day, week or month that holds `from`. The window may be at most
        1000 days long with `day`, 1000 weeks with `week` and 28000 days with `month`
        (`too_many_buckets`).
      schema: { type: string, enum: [day, week, month], default: day }
    Format:
      name: format
      in: query
      required: false
      description: "`csv` for `text/csv; charset=utf-8` (a header row, CRLF line ends, times in RFC 3339) instead of JSON"
      schema: { type: string, enum: [json, csv], default: json }
  responses:
    InvalidReport:
      description: |
        `validation_failed`, every bad parameter listed: `from` and/or `to` `invalid_time` (not an
        RFC 3339 time or a date); `from` `invalid_range` (not before `to`); `interval`
        `invalid_choice` (not `day`, `week` or `month`) or `too_many_buckets` (the window is longer
        than 1000 days, weeks or 28-day months); `format` `invalid_choice` (not `json` or `csv`)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PayloadTooLarge:
      description: The body is over the limit, 64 KiB (`payload_too_large`)
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
    Batch:
      type: object
      description: The events of one session, 1 to 50.
      required: [sessionId, events]
      properties:
        sessionId:
          type: string
          pattern: "^[A-Za-z0-9_-]{16,128}$"
          description: The app's session, the same across its requests until it starts a new one; 16 to 128 letters, digits, `-` or `_`
        events:
          type: array
          minItems: 1
          maxItems: 50
          items: { $ref: "#/components/schemas/ClientEvent" }
    ClientEvent:
      type: object
      required: [event, timestamp]
      properties:
        id: { type: string, format: uuid, description: Optional; the same id from the same session is recorded once }
        event: { $ref: "#/components/schemas/ClientEventName" }
        timestamp:
          type: string
          format: date-time
          description: When it happened; at most 5 minutes ahead of the server's clock and at most 7 days old
        properties:
          type: object
          maxProperties: 20
          description: |
            What the event needs (`paywall_viewed`: `placement`; `subscription_plan_selected`:
            `tier` and `interval`), and anything else worth keeping
          propertyNames: { pattern: "^[A-Za-z0-9_]{1,40}$" }
          additionalProperties:
            oneOf:
              - { type: string, maxLength: 200 }
              - { type: number }
              - { type: boolean }
          properties:
            placement: { type: string, minLength: 1, maxLength: 200, description: "`paywall_viewed`: where the paywall was shown" }
            tier: { type: string, enum: [starter, pro], description: "`subscription_plan_selected`" }
            interval: { type: string, enum: [MONTHLY, ANNUAL], description: "`subscription_plan_selected`" }
    ClientEventName:
      type: string
      description: The events apps send
      enum: [signup_started, paywall_viewed, subscription_plan_selected]
    ProductEvent:
      type: string
      description: |
        Every tracked event: those recorded from the server's events (`signup_completed` …
        `payment_failed`) and those apps send (`signup_started`, `paywall_viewed`,
        `subscription_plan_selected`)
      enum:
        - signup_completed
        - onboarding_completed
        - video_1_started
        - video_1_completed
        - lesson_started
        - lesson_completed
        - module_completed
        - course_completed
        - subscription_started
        - subscription_renewed
        - subscription_cancelled
        - payment_failed
        - signup_started
        - paywall_viewed
        - subscription_plan_selected
    FunnelStep:
      type: object
      required: [event, users, conversionFromPrevious, conversionFromFirst]
      properties:
        event: { $ref: "#/components/schemas/ProductEvent" }
        users: { type: integer, minimum: 0 }
        conversionFromPrevious: { type: number, minimum: 0, maximum: 1, description: "Of the users who reached the previous step; for the first step 1, or 0 when it has no users" }
        conversionFromFirst: { type: number, minimum: 0, maximum: 1, description: Of the users who reached the first step }
    Series:
      type: object
      required: [from, to, interval, points]
      properties:
        from: { type: string, format: date-time }
        to: { type: string, format: date-time }
        interval: { type: string, enum: [day, week, month] }
        points: { type: array }
    MRRPoint:
      type: object
      required: [bucket, at, mrr, activeSubscriptions]
      properties:
        bucket: { type: string, format: date-time, description: "The bucket's start (for the first, it may be before `from`)" }
        at: { type: string, format: date-time, description: "The moment the figure is for: the bucket's end, or `to` for the last" }
        mrr: { type: integer, minimum: 0, description: Monthly recurring revenue in minor units }
        activeSubscriptions: { type: integer, minimum: 0 }
    ActivePoint:
      type: object
      required: [bucket, activeLearners]
      properties:
        bucket: { type: string, format: date-time, description: "The bucket's start (for the first, it may be before `from`)" }
        activeLearners: { type: integer, minimum: 0 }
    CountPoint:
      type: object
      required: [bucket, event, count]
      properties:
        bucket: { type: string, format: date-time, description: "The bucket's start (for the first, it may be before `from`)" }
        event: { $ref: "#/components/schemas/ProductEvent" }
        count: { type: integer, minimum: 1 }
    RecordedEvent:
      type: object
      required: [event, source, createdAt, properties]
      properties:
        event: { $ref: "#/components/schemas/ProductEvent" }
        source: { type: string, enum: [server, client], description: "Where it was recorded from" }
        createdAt: { type: string, format: date-time, description: When it happened }
        properties: { type: object, description: What was recorded with it }
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
