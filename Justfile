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
    go test -run '^$' -bench BenchmarkDurableCommands -benchtime 30000x ./eventstore/

# What one atomic batch costs by its size, staged on disk and in memory.
bench-batch:
    go test -run '^$' -bench BenchmarkBatchSize -benchtime 20x ./eventstore/

# Fuzz command decoding, event decoding and replay for a bounded time each.
fuzz TIME="30s":
    go test -run x -fuzz FuzzDecodeCommand -fuzztime {{TIME}} ./domain/
    go test -run x -fuzz FuzzUnmarshalEvent -fuzztime {{TIME}} ./domain/
    go test -run x -fuzz FuzzReplay -fuzztime {{TIME}} ./domain/

# Formatting and static checks.
lint:
    gofmt -l .
    go vet ./...
