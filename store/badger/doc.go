// Package badger is the inbox's embedded default store: the store.Store
// contract on a Badger database in one directory of this machine, needing
// no other service.
//
// How it keeps the contract's promises, which are facts of this backend
// and not of the contract:
//
//   - Durability: Badger runs with SyncWrites, and a transaction is synced
//     once however many writes it holds, so a single committer goroutine
//     takes whatever Accepts and settled deliveries are queued and writes
//     them in one synced transaction (group commit, accept.go). Concurrent
//     calls share fsyncs; a lone call waits for one.
//   - Atomicity: the dedup marker, the event record, its ID index and one
//     state, queue entry and status index entry per target are written in
//     that one transaction, or none is.
//   - Leases live in this process's memory (lease.go): one process owns
//     the directory (Badger locks it), a lease is held until its delivery
//     is settled or released, and a crash forgets them all, which makes
//     every unsettled entry due again (at least once).
//   - Watch is an in-process signal from the committer (notify.go).
//   - Ordering (ordering.go): an ordered delivery's key and line position
//     are stored in its target state and as the value of its queue entry
//     (flagged with a user-meta byte, so unordered entries cost nothing);
//     which entry heads each (target, key) line is kept in memory,
//     rebuilt on open from the flagged queue entries and changed after
//     each commit, so Lease checks a head with a map lookup and steps
//     over the held-back entries. A replay takes a fresh position from
//     the seq counter, which puts it behind its line.
//   - Pauses are one key per paused target (pause.go), read on demand.
//   - Time: receive times, due times and retention follow Options.Clock;
//     Badger's own TTLs (dedup markers, unrouted events) follow the wall
//     clock in whole seconds, rounded up.
//   - Retention: settled events go into a retention index that a sweeper
//     deletes from every Options.SweepInterval (retention.go).
//
// The key layout is in keys.go.
package badger
