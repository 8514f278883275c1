// Package chaos holds the fault-injection suite: bad input, secret
// hygiene, a full disk, reloads under load and misbehaving downstream
// apps, each driven through the real caddy binary on 127.0.0.1 (see
// RELIABILITY.md). It has no code of its own, only tests.
package chaos
