// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.
public enum NotificationsOpenAPI {
    public static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus notifications service
  version: 0.1.0
  description: |
    The email engine of Syllabus. It learns users from identity's, billing's, progress's and
    content's events, queues lifecycle mail by its rules, checks each mail again against the
    user's state when it falls due, and sends it. Its API: the queue for admins (read it, and send
    a failed mail again) and the one-click unsubscribe link that every marketing mail carries.

    Access tokens are ES256 JWTs issued by identity and verified locally against the key set in
    `JWT_JWKS_FILE`; the tokens of a user whose `identity.user.deleted.v1` has arrived are refused.
    The unsubscribe link needs no token: it is signed for its user.

    No route reads a JSON body. Any request body is still read first, whatever the route: one
    over 2 MiB is answered with 413 `payload_too_large`, one with a NUL character (a raw NUL byte,
    or `\u0000` escaped) with 400 `invalid_character`. Responses are JSON with camelCase names;
    times are RFC 3339 strings in UTC with fractional seconds; optional properties without a value
    are left out.

    Ids are UUIDs, written in lower case in every answer, as in the events. Paths and query
    parameters accept either case; a path id that is not a UUID names nothing and is answered
    with 404 `not_found`, like an unknown one.

    Errors are RFC 9457 `application/problem+json` with a stable `code`. A path or method not
    listed here is answered with 404 `not_found`; an unexpected failure (for example the database
    being unreachable) with 500 `internal_error`.
servers:
  - url: http://127.0.0.1:8085
tags:
  - name: admin
    description: What is queued and what was sent, for admins
  - name: unsubscribe
    description: The one-click unsubscribe link of marketing mail (RFC 8058)
  - name: operations
    description: Health, metrics and this document
paths:
  /v1/notifications/admin/emails:
    get:
      operationId: adminListEmails
      summary: Queued and processed mail
      description: |
        Entries of the email queue, latest `scheduledFor` first, at most `limit` of them (no
        further pages). Every filter is optional and they combine; `status` and `template` are
        matched exactly (upper case). The entries of a deleted user stay, the pending ones
        `CANCELLED` with reason `deleted`.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      parameters:
        - name: userId
          in: query
          required: false
          schema: { type: string, format: uuid }
        - name: status
          in: query
          required: false
          schema: { $ref: "#/components/schemas/EmailStatus" }
        - name: template
          in: query
          required: false
          schema: { $ref: "#/components/schemas/EmailTemplate" }
        - name: limit
          in: query
          required: false
          schema: { type: integer, minimum: 1, maximum: 200, default: 50 }
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The entries
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  items:
                    type: array
                    items: { $ref: "#/components/schemas/EmailEntry" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "422":
          description: |
            `validation_failed`, every bad parameter listed: `userId` `invalid_uuid`; `status`
            `invalid_choice`; `template` `invalid_choice`; `limit` `out_of_range` (not an integer
            from 1 to 200)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/notifications/admin/emails/{id}/retry:
    parameters:
      - name: id
        in: path
        required: true
        description: The queue entry's id, in either case; anything that is not a UUID is answered with 404 `not_found`
        schema: { type: string, format: uuid }
    post:
      operationId: adminRetryEmail
      summary: Send a failed mail again
      description: |
        For a mail that is `FAILED` (its transport failed five times, or its template is unknown),
        once the cause is mended: the entry becomes `PENDING` again, due now, with `attempts` 0 and
        no `processedAt` or `reason`, and the dispatcher is woken at once. It is checked again
        when it is sent, like any mail (it may be skipped: the user opted out, subscribed, was
        deleted…), and gets a fresh five attempts. No request body. The token is checked before
        the id.
      tags: [admin]
      security:
        - bearerAuth: [admin]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The entry as it is now, `PENDING`
          content:
            application/json:
              schema: { $ref: "#/components/schemas/EmailEntry" }
        "401": { $ref: "#/components/responses/Unauthenticated" }
        "403": { $ref: "#/components/responses/AdminOnly" }
        "404":
          description: No mail with this id, or the id is not a UUID (`not_found`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "409":
          description: The mail is not `FAILED`; only a failed mail can be retried (`not_retryable`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500": { $ref: "#/components/responses/InternalError" }
  /v1/notifications/unsubscribe:
    parameters:
      - $ref: "#/components/parameters/UnsubscribeUser"
      - $ref: "#/components/parameters/UnsubscribeToken"
    get:
      operationId: unsubscribePage
      summary: The unsubscribe page
      description: |
        What a person who clicks the link in a marketing mail sees: a page with an Unsubscribe
        button, a form that POSTs to this same URL. Opening the link changes nothing, since mail
        scanners and link previews open links too. No access token.
      tags: [unsubscribe]
      responses:
        "400": { $ref: "#/components/responses/InvalidCharacter" }
        "200":
          description: The page
          content:
            text/html:
              schema: { type: string }
        "403": { $ref: "#/components/responses/InvalidLink" }
        "500": { $ref: "#/components/responses/InternalError" }
    post:
      operationId: unsubscribe
      summary: Unsubscribe from marketing mail (one click)
      description: |
        RFC 8058 one-click unsubscribe: what mail clients send for the `List-Unsubscribe` and
        `List-Unsubscribe-Post` headers of a marketing mail, and what the page's button sends.
        The user's marketing opt-out is set at once (pending marketing mail is skipped when it
        falls due; transactional mail still goes) and `notifications.consent.changed.v1` is
        published, which identity applies to the profile. No access token.

        Idempotent: repeating it changes nothing and publishes nothing again; for a user who has
        opted out already, or was deleted, it answers the same. The body (mail clients send
        `List-Unsubscribe=One-Click`) is not interpreted and may be left out; any `Content-Type`
        is accepted, but the body is still read for NUL characters (400 `invalid_character`,
        before the link is checked) and size (413).
      tags: [unsubscribe]
      requestBody:
        required: false
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                List-Unsubscribe: { type: string, enum: [One-Click] }
      responses:
        "200":
          description: Opted out of marketing mail
          content:
            application/json:
              schema:
                type: object
                required: [userId, marketingOptOut]
                properties:
                  userId: { type: string, format: uuid, description: The link's user }
                  marketingOptOut: { type: boolean, const: true }
        "400":
          description: The body contains a NUL character (`invalid_character`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "403": { $ref: "#/components/responses/InvalidLink" }
        "413": { $ref: "#/components/responses/PayloadTooLarge" }
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
    UnsubscribeUser:
      name: user
      in: query
      required: true
      description: |
        The user the link is for, as written into the mail (lower case; either case is
        accepted). Missing, or not a UUID: 403 `invalid_link`.
      schema: { type: string, format: uuid }
    UnsubscribeToken:
      name: token
      in: query
      required: true
      description: |
        The link's signature: HMAC-SHA256 of `unsubscribe:<user id in lower case>` keyed with
        `NOTIFICATIONS_UNSUBSCRIBE_SECRET`, base64url without padding. It does not expire, so the
        link of an old mail still works. Missing or not the user's: 403 `invalid_link`.
      schema: { type: string }
  responses:
    InvalidLink:
      description: |
        `invalid_link` — `user` or `token` is missing, `user` is not a UUID, or `token` is not
        the signature of `user` (a link altered, cut short, or signed with another secret)
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    PayloadTooLarge:
      description: The body is over 2 MiB (`payload_too_large`)
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
    EmailEntry:
      type: object
      required: [id, userId, template, kind, status, scheduledFor, attempts]
      properties:
        id: { type: string, format: uuid, description: "The queue entry; also the `.eml` file name and the `Message-ID`" }
        userId: { type: string, format: uuid, description: "The recipient: the learner, or for `VIDEO_FAILED` the admin" }
        template: { $ref: "#/components/schemas/EmailTemplate" }
        kind: { $ref: "#/components/schemas/EmailKind" }
        status: { $ref: "#/components/schemas/EmailStatus" }
        scheduledFor:
          type: string
          format: date-time
          description: |
            When the mail is due: the time of the event that queued it plus the rule's delay (24
            hours for `START_JOURNEY`, seven days for `INACTIVE_NUDGE`, …); after a failed
            attempt, when the next one is; after an admin's retry, the time of the retry
        processedAt: { type: string, format: date-time, description: "When it was sent, skipped, cancelled or failed; left out while `PENDING`" }
        reason:
          type: string
          description: |
            Why it was not sent. `SKIPPED` (by the check at send time): `expired` (more than
            seven days late), `unknown recipient`, `deleted`, `opted out` (marketing mail only),
            `converted`, `started`, `active`, `not renewing`, `paid`. `CANCELLED` (by a later
            event): `started`, `converted`, `active`, `period changed`, `not renewing`, `ended`,
            `paid`, `deleted`. `FAILED`: `unknown template`, or the transport's last error. While
            `PENDING` after a failed attempt: that attempt's error. Left out otherwise.
        attempts:
          type: integer
          minimum: 0
          description: Times the dispatcher has taken the mail up (a skip counts as one); 0 again after an admin's retry
    EmailTemplate:
      type: string
      description: |
        Transactional (sent whatever the marketing opt-out says): `WELCOME`, `VERIFY_EMAIL`,
        `PASSWORD_RESET`, `EMAIL_CHANGE_REQUESTED`, `VIDEO_FAILED`, `RENEWAL_REMINDER`, `PAYMENT_FAILED`,
        `PAYMENT_FAILED_FINAL`, `SUBSCRIPTION_CANCELLED`. Marketing (respects the opt-out,
        carries the unsubscribe link): `START_JOURNEY`, `ABANDONMENT_1`, `ABANDONMENT_2`,
        `ABANDONMENT_3`, `MODULE_COMPLETE`, `COURSE_COMPLETE`, `INACTIVE_NUDGE`.
      enum:
        - WELCOME
        - VERIFY_EMAIL
        - PASSWORD_RESET
        - EMAIL_CHANGE_REQUESTED
        - VIDEO_FAILED
        - START_JOURNEY
        - ABANDONMENT_1
        - ABANDONMENT_2
        - ABANDONMENT_3
        - MODULE_COMPLETE
        - COURSE_COMPLETE
        - INACTIVE_NUDGE
        - RENEWAL_REMINDER
        - PAYMENT_FAILED
        - PAYMENT_FAILED_FINAL
        - SUBSCRIPTION_CANCELLED
    EmailKind:
      type: string
      description: "`marketing` mail respects the opt-out and carries one-click unsubscribe; `transactional` mail always goes"
      enum: [transactional, marketing]
    EmailStatus:
      type: string
      enum: [PENDING, SENT, SKIPPED, CANCELLED, FAILED]
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
