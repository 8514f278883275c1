//go:build !race

package badger

// raceEnabled is true when the race detector is on; tests that measure
// disk or speed rather than concurrency skip themselves then.
const raceEnabled = false
