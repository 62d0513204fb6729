# Everyday recipes. `just --list` shows them.

# Run the engine on the embedded NATS server, data in ./data.
run *ARGS:
    go run ./cmd/ticketd {{ARGS}}

# Run every test, with the race detector.
test:
    go test -race -count=1 ./...

# What CI runs.
ci:
    bash .ci/run

# Durable command throughput at 1, 16 and 256 producers beside the raw
# JetStream publish baseline (docs/performance.md).
# BENCH_STAGING=disk stages batches on disk instead of in memory.
bench:
    go test -run '^$' -bench BenchmarkDurableCommands -benchtime 30000x ./engine/

# What one atomic batch costs by its size, staged on disk and in memory.
bench-batch:
    go test -run '^$' -bench BenchmarkBatchSize -benchtime 20x ./eventstore/

# The engine at scale, black-box: a real ticketd process, TICKETS first
# contacts (a comma-separated list runs each size on its own data), inbox
# queries, commands on cold tickets, a restart; beside a raw JetStream
# baseline in the same run (docs/performance.md, "Measuring it yourself").
bench-scale TICKETS="100000" *ARGS:
    go run ./cmd/ticketbench scale -tickets {{TICKETS}} {{ARGS}}

# The campaign reply storm against a real ticketd process: 60 s of 256
# closed-loop producers, MIX first, mixed or warm.
bench-storm MIX="first" *ARGS:
    go run ./cmd/ticketbench storm -mix {{MIX}} {{ARGS}}

# Fuzz command and body decoding, event decoding and replay for a bounded time each.
fuzz TIME="30s":
    go test -run x -fuzz FuzzDecodeCommand -fuzztime {{TIME}} ./domain/
    go test -run x -fuzz FuzzDecodeBody -fuzztime {{TIME}} ./domain/
    go test -run x -fuzz FuzzUnmarshalEvent -fuzztime {{TIME}} ./domain/
    go test -run x -fuzz FuzzReplay -fuzztime {{TIME}} ./domain/

# Formatting and static checks.
lint:
    gofmt -l .
    go vet ./...
