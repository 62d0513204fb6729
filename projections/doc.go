// Package projections builds Ticketbus's read side: SQLite views of the
// event log (inbox lists, counts, ticket threads, audit history, profiles,
// users) kept current by a Projector, and served by Views, which can also
// rebuild them from the log and verify them against it.
//
// The views are a pure function of the log: nothing here reads a clock.
// Queries whose answer depends on the time (a snooze past its until reads
// as open, R4) take the caller's clock reading as an argument.
package projections
