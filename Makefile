# Thin wrappers over scripts/: see README.md.
.PHONY: run run-ha stop test backup backups restore bench bench-http build stack-up stack-down stack-status test-stack-up test-stack-down topology openapi asyncapi fmt fmt-check

run:            ## install what is missing, start Postgres, RabbitMQ and the seven services (Ctrl-C stops all)
	@scripts/run.sh

stop:           ## stop what `make run` or `make run-ha` started
	@scripts/run.sh stop
	@scripts/ha.sh down

run-ha:         ## the HA stack: three RabbitMQ nodes, Patroni with two Postgres nodes, two replicas of each service behind nginx on :8800
	@scripts/ha.sh up

test:           ## everything, against real servers of its own (other ports than `make run`)
	@scripts/test.sh

build:
	swift build

backup:         ## a backup of `make run`'s Postgres now (pgBackRest; TYPE=full|diff|incr, incr by default)
	@scripts/stack.sh backup run $(TYPE)

backups:        ## the backups of `make run`'s Postgres, and the span of time a restore can reach
	@scripts/stack.sh backups run

restore:        ## restore `make run`'s Postgres to a moment (TO='2026-12-05 10:00:00+00', or TO=latest); stop the services first
	@scripts/stack.sh restore run "$(TO)"

stack-up:       ## only Postgres and RabbitMQ of `make run`
	@scripts/stack.sh up run

stack-down:
	@scripts/stack.sh down run

stack-status:
	@scripts/stack.sh status run

test-stack-up:  ## only the test servers, to run `swift test` by hand
	@scripts/test.sh stack

test-stack-down:
	@scripts/stack.sh down test

bench:          ## speed of the bus and the HTTP paths, growth curves, the whole system under load: ratios against baselines measured in the same run
	@scripts/bench.sh

bench-http:     ## HTTP paths in release builds against a bare route and pgbench, in the same run
	@scripts/bench-http.sh

asyncapi:       ## write Shared/Contracts/asyncapi.yaml from the event catalogue and Shared/Contracts/AsyncAPI/
	@swift build --product syllabus >/dev/null && "$$(swift build --show-bin-path)/syllabus" contracts catalogue | /usr/bin/python3 scripts/contracts.py asyncapi --catalogue - && /usr/bin/python3 scripts/events-doc.py

fmt:            ## format the Swift sources with swift-format (the toolchain's `swift format`, settings in .swift-format)
	@git ls-files '*.swift' | xargs swift format --in-place --parallel

fmt-check:      ## what `make fmt` would change, without changing it
	@git ls-files '*.swift' | xargs swift format lint --parallel

openapi:        ## check each service's openapi.yaml, merged with Shared/ServiceKit/OpenAPI/common.yaml as it is served
	@scripts/check-openapi.sh
