// Package store is the inbox's storage contract: the domain types every
// consumer shares (events, deliveries, attempts, records, filters, stats),
// the interfaces a backend implements, split by who uses them, and the
// errors they return.
//
// The handler reaches a backend only through Ingest, the dispatcher
// (package relay) only through Queue, the admin API, metrics and console
// through Catalog and Pauses. Optional capabilities a backend may lack
// (disk usage, free space, a description for operators) are discovered by
// interface assertion. The contract says what a call means, never how a
// backend does it: how it batches, syncs or leases is the backend's own
// documentation (store/badger, store/nats).
//
// Every backend passes the conformance suite in store/storetest.
//
// It imports the standard library only.
package store
