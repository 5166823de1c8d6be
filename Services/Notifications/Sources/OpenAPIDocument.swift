// Generated from openapi.yaml by scripts/embed-openapi.sh; edit the YAML, then run the script.
enum NotificationsOpenAPI {
    static let document = #####"""
openapi: 3.1.0
info:
  title: Syllabus notifications service
  version: 0.1.0
  description: |
    The email engine of Syllabus: it learns users from identity's events, queues mail and sends
    it. Its only API is a read-only view of the queue for admins.

    Responses are JSON with camelCase names; times are RFC 3339 strings in UTC with fractional
    seconds; optional properties without a value are left out. Errors are RFC 9457
    `application/problem+json` with a stable `code`. A path or method not listed here is answered
    with 404 `not_found`; an unexpected failure (for example the database being unreachable) with
    500 `internal_error`.
servers:
  - url: http://127.0.0.1:8085
tags:
  - name: admin
    description: What is queued and what was sent, for admins
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
        - bearerAuth: []
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
        "401":
          description: |
            `unauthenticated` — no `Authorization: Bearer` header; `invalid_token` — the token is
            expired, malformed, badly signed, signed with a key not in the configured JWKS, not
            issued by identity, not meant for `syllabus`, or its user has been deleted (`detail`
            says which)
          headers:
            WWW-Authenticate:
              description: "`Bearer`, or `Bearer error=\"invalid_token\"`"
              schema: { type: string }
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "403":
          description: The caller is not an admin (`admin_only`)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "422":
          description: |
            `validation_failed`, every bad parameter listed: `userId` `invalid_uuid`; `status`
            `invalid_choice`; `template` `invalid_choice`; `limit` `out_of_range` (not an integer
            from 1 to 200)
          content:
            application/problem+json:
              schema: { $ref: "#/components/schemas/Problem" }
        "500":
          description: An unexpected failure, for example the database being unreachable (`internal_error`)
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
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      bearerFormat: JWT
      description: |
        `Authorization: Bearer <access token>`, an ES256 JWT issued by identity, verified locally
        against the key set in `JWT_JWKS_FILE`.
  schemas:
    EmailEntry:
      type: object
      required: [id, userId, template, status, scheduledFor, attempts]
      properties:
        id: { type: string, format: uuid, description: "The queue entry; also the `.eml` file name and `Message-ID`" }
        userId: { type: string, format: uuid }
        template: { $ref: "#/components/schemas/EmailTemplate" }
        status: { $ref: "#/components/schemas/EmailStatus" }
        scheduledFor: { type: string, format: date-time, description: When the mail is due (the time of the event that queued it) }
        processedAt: { type: string, format: date-time, description: "When it was sent, skipped, cancelled or failed; left out while `PENDING`" }
        reason:
          type: string
          description: |
            Why it was not sent. `SKIPPED`: `expired` (more than seven days late), `unknown
            recipient`, `deleted`, `opted out` (marketing mail only); `CANCELLED`: `deleted`;
            `FAILED`: `unknown template`. Left out otherwise.
        attempts: { type: integer, minimum: 0 }
    EmailTemplate:
      type: string
      enum: [WELCOME, VERIFY_EMAIL, PASSWORD_RESET]
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
    FieldError:
      type: object
      required: [field, code, message]
      properties:
        field: { type: string }
        code: { type: string }
        message: { type: string }
"""#####
}
