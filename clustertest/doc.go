// Package clustertest runs Ticketbus the way operators run it on a NATS
// cluster, as separate processes: three nats-server processes started from
// docs/cluster/nats-server.conf as shipped, two ticketd processes with
// -nats-url and -replicas 3, and ticketctl load and views verify, each a
// binary built from this module. Faults are injected from outside: a
// server is killed with SIGKILL and started again on its store.
//
// In-process clusters (cmd/ticketd's cluster test) share one Go runtime and
// one scheduler with the engine, which hides timing that separate
// processes show: stale reads from a lagging replica, for one, were seen
// only this way. The package has no code of its own; the harness and the
// tests are its _test.go files. The tests skip under -short; the long
// variant runs with TICKETBUS_CLUSTER_LONG=1.
package clustertest
