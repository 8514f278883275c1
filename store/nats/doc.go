// Package nats is the inbox's cluster store: the store.Store contract on
// one replicated NATS JetStream stream (nats-server 2.12 or later), so
// several gateways share every event, lease and pause.
//
// How it keeps the contract's promises, which are facts of this backend
// and not of the contract:
//
//   - Layout: one stream named after the prefix, with Replicas replicas,
//     file storage, MaxMsgsPerSubject 1 (each subject holds its last
//     message, like a KV bucket), per-message TTLs and atomic batch
//     publish allowed. Subjects are in subjects.go: a dedup marker per
//     (source, id), a record per event (metadata and body, written once),
//     a state per (event, target) that is also its queue entry, a
//     heartbeat per open store, a message per paused target. A delete
//     writes tombstones (expiring after an hour) so every view sees it.
//   - Durability: a write is acknowledged once a quorum of replicas has
//     it. When they sync it to disk is the servers' setting: run them with
//     sync_interval: always, or a power failure loses acknowledged writes.
//     A lone server (replicas 1) flushes each atomic batch before it
//     answers, and these batches go one at a time: BenchmarkAccept
//     measured about 13 ms per Accept there with 16 parallel callers,
//     against 0.18 ms on a 3-node R3 cluster on the same machine.
//   - Atomicity (accept.go): Accept is one atomic batch of the marker, the
//     record and one pending state per target; the server stores all of
//     it or none. The marker carries Nats-Expected-Last-Subject-Sequence
//     0, a durable insert-if-absent, and a TTL of the dedup window (or
//     DedupUntil), so duplicates are found from stored state across all
//     gateways for the whole window, not from the stream's in-memory
//     Duplicates map (rebuilt on restart, meant for minutes). A refused
//     marker is a duplicate once a read of the marker finds it (a refusal
//     can also mean a batch for the same ID was in flight; Accept then
//     retries).
//   - Views (view.go, follow.go): each store follows the stream (without
//     markers) with an ordered consumer from the first message, keeping
//     records without bodies, states, heartbeats and pauses in memory.
//     Writes go to the cluster and then wait until the view has applied
//     them; Get, List, Stats, Paused, Requeue, ReplayDead and Delete first
//     write a barrier and wait for it, so they answer with every write the
//     cluster acknowledged before the call, whichever gateway made it.
//     Memory grows with the events retained; bodies are read from the
//     stream leader when needed.
//   - Leases (lease.go): a lease is the entry's state rewritten with the
//     holder's name, conditional on the sequence the view saw
//     (Nats-Expected-Last-Subject-Sequence), so two gateways never both
//     win it. It holds while the holder's heartbeat, sent every LeaseTTL/3,
//     is younger than LeaseTTL by this machine's wall clock (keep the
//     gateways' clocks in sync); Close writes a goodbye that frees it at
//     once, a crashed gateway's leases are taken over after LeaseTTL. A
//     long attempt needs no renewal: the heartbeat covers every lease of a
//     live gateway. A settle records its attempt on the entry's current
//     state while that is pending (a replay may have moved it; the
//     attempt still counts), conditional on the sequence it read and
//     retried after a conflict; a settled or deleted entry refuses it
//     (ErrNotPending, ErrNotFound). Release is conditional on the lease's
//     own write: it does nothing once anyone wrote the state since. A store remembers the leases
//     it is writing or has handed out; once a second it releases entries
//     its view shows leased by it that it does not remember (a lease
//     whose answer was lost, a settle that failed while the cluster was
//     unreachable), so a live gateway never sits on an entry for good.
//   - Why not a durable consumer per target: the contract's due times
//     follow the store's Clock, Lease hands out the oldest due first across
//     retries, and Release makes an entry leasable at once; a consumer
//     redelivers in stream order by the wall clock (Nak ignores BackOff,
//     a full MaxAckPending stalls it). The states are the queue, ordered by
//     due time in each view.
//   - Ordering (ordering.go): an ordered entry's state carries its order
//     key and its place in the key's line, and the event record carries
//     every target's key, so lines survive restarts and every gateway
//     reads the same ones from the stream. The place is the stream
//     sequence of the state message that put the entry in line: Accept
//     and a replay write place 0, standing for the message's own
//     sequence, and the view fills it in, so later writes (lease, retry,
//     release) carry the number. A replay thus goes behind every entry
//     already in line; no counter is shared. Each view keeps a target's
//     ordered pending states by (key, place) and puts only the front one
//     of each line in the due queue: Lease scans unordered entries and
//     line heads only, however long the backlog behind a blocked head,
//     and an unordered target pays nothing. A head holds its line while
//     leased or waiting for its retry; when it leaves (delivered, dead,
//     deleted, replayed to the back) the next one joins the queue. A view
//     is a prefix of the stream and a revived entry takes a later place,
//     so a head in any view has nothing pending ahead of it; the lease is
//     the usual conditional write on the entry itself.
//   - Watch: the view signals a target's watchers when it applies a
//     pending, unleased state of it that Lease may hand out (unordered or
//     at the front of its line), or puts the next entry of a line in
//     front, from any gateway, and when a holder says goodbye.
//   - Time: receive times, due times and retention follow Options.Clock;
//     dedup markers and tombstones expire by the servers' wall clock, in
//     whole seconds, rounded up. Leases follow the wall clock.
//   - Retention (delete.go): every store sweeps every SweepInterval and
//     tombstones settled events whose retention has passed since their
//     last settle (unrouted ones since their receive), conditional on the
//     sequences it saw, so of several gateways one deletes each.
//   - Faults: every call to the cluster is bounded by OpTimeout; a
//     timeout, no responders, no quorum or a lost connection is wrapped as
//     store.ErrUnavailable (ingress answers 503). The client reconnects by
//     itself and the view resumes from the last message it applied; its
//     ordered consumer lives on the stream leader and is recreated within
//     about two seconds when the leader moves (a 1 s pull heartbeat).
//   - Open batches: a server keeps at most 50 atomic batches open per
//     stream (max_batch_inflight_per_stream) and refuses more with 429. A
//     store sends a batch's messages back to back with only the commit
//     acknowledged, keeps at most 16 open, and retries a 429 within the op
//     timeout; one that persists is ErrUnavailable. Many gateways under a
//     burst may want the server limit raised.
//   - Secrets (user, password, token, credentials file) go to the client
//     only: logs, errors and Describe show the servers without user
//     information.
package nats
