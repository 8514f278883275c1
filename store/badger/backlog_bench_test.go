package badger

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// BenchmarkBacklog measures issue 6's backlog figures for N pending events,
// N from INBOX_BACKLOG (skipped when unset, so plain -bench runs stay fast):
// accept rate with 64 writers, process RSS with N pending, time from Close
// to the first Accept after reopening, RSS after reopening, and the
// Lease+Ack drain rate with 8 workers (first half of the backlog) and 64
// workers (the rest). One op is the whole measurement; run it with
// -benchtime=1x.
//
//	INBOX_BACKLOG=1000000 go test ./relay -run '^$' -bench '^BenchmarkBacklog$' -benchtime=1x -v
func BenchmarkBacklog(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("INBOX_BACKLOG"))
	if n <= 0 {
		b.Skip("set INBOX_BACKLOG=<events> to measure a backlog")
	}
	for range b.N {
		measureBacklog(b, n)
	}
}

func measureBacklog(b *testing.B, n int) {
	dir := b.TempDir()
	opts := Options{Logger: zap.NewNop()}
	in, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	// Close is idempotent; this covers a failure midway.
	b.Cleanup(func() { _ = in.Close() })
	resetPeakRSS(b)

	start := time.Now()
	fillBacklog(b, in, n)
	acceptRate := float64(n) / time.Since(start).Seconds()
	b.Logf("accepted %d events in %v: %.0f events/s", n, time.Since(start).Round(time.Millisecond), acceptRate)
	pending := memoryReport(b, "with backlog pending")
	writeHeapProfile(b, "pending")
	debug.FreeOSMemory()
	memoryReport(b, "with backlog pending, after FreeOSMemory")
	b.Logf("on disk: %s", diskUsage(b, dir))

	if err := in.Close(); err != nil {
		b.Fatal(err)
	}
	debug.FreeOSMemory()
	memoryReport(b, "closed")
	resetPeakRSS(b)

	start = time.Now()
	in, err = Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	opened := time.Since(start)
	ev := benchEvent()
	ev.ID = "after_reopen"
	if _, err := in.Accept(context.Background(), &ev); err != nil {
		b.Fatal(err)
	}
	ready := time.Since(start)
	b.Logf("reopen: Open %v, first Accept done at %v", opened.Round(time.Millisecond), ready.Round(time.Millisecond))
	reopened := memoryReport(b, "after reopen")

	st, err := in.Stats(bg)
	if err != nil {
		b.Fatal(err)
	}
	total := int(st["app"].Pending)
	resetPeakRSS(b)
	drain8 := drainBacklog(b, in, 8, total/2)
	drain64 := drainBacklog(b, in, 64, total-total/2)
	memoryReport(b, "after drain")
	writeHeapProfile(b, "drained")
	if err := in.Close(); err != nil {
		b.Fatal(err)
	}

	b.ReportMetric(acceptRate, "accept-ev/s")
	b.ReportMetric(pending.rss, "pending-RSS-MiB")
	b.ReportMetric(pending.hwm, "pending-HWM-MiB")
	b.ReportMetric(ready.Seconds(), "ready-s")
	b.ReportMetric(reopened.rss, "reopen-RSS-MiB")
	b.ReportMetric(drain8, "drain8-ev/s")
	b.ReportMetric(drain64, "drain64-ev/s")
}

// fillBacklog accepts n unique events for target "app" with 64 writers.
func fillBacklog(b *testing.B, in *Store, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			ev := benchEvent()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				ev.ID = "backlog_" + strconv.FormatInt(i, 10)
				if _, err := in.Accept(context.Background(), &ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// drainBacklog acks count deliveries with the given number of workers,
// leasing 16 at a time as the dispatcher does, and returns acks per
// second. Deliveries leased beyond count are released for the next run.
func drainBacklog(b *testing.B, in *Store, workers, count int) float64 {
	var claimed, acked atomic.Int64
	var wg sync.WaitGroup
	now := time.Now().Add(time.Hour)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for claimed.Load() < int64(count) {
				ds, err := in.lease("app", now, 16, time.Minute)
				if err != nil {
					b.Error(err)
					return
				}
				if len(ds) == 0 {
					// Every remaining entry is leased by another worker.
					runtime.Gosched()
					continue
				}
				for _, d := range ds {
					if claimed.Add(1) > int64(count) {
						in.Release(d)
						continue
					}
					if err := in.Ack(bg, d, store.Attempt{At: now, Duration: time.Millisecond, Status: 200}); err != nil {
						b.Error(err)
						return
					}
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	rate := float64(acked.Load()) / elapsed.Seconds()
	b.Logf("drained %d with %d workers in %v: %.0f events/s", acked.Load(), workers, elapsed.Round(time.Millisecond), rate)
	return rate
}

type memFigures struct {
	rss, hwm float64 // MiB
}

// memoryReport logs the process's resident memory, split by what backs it
// (Go heap and other anonymous memory, Badger's memtable WALs, tables and
// value log), next to the Go runtime's own view, and returns RSS and peak.
func memoryReport(b *testing.B, when string) memFigures {
	status := readStatus(b)
	byKind := residentByMapping(b)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("RSS %s: VmRSS %.0f MiB (anon %.0f, file %.0f), VmHWM %.0f MiB; "+
		"resident by mapping: anon %.0f, .mem %.0f, .sst %.0f, .vlog %.0f, other %.0f MiB; "+
		"Go heap in use %.0f MiB, Go sys %.0f MiB, heap released %.0f MiB",
		when, status["VmRSS"], status["RssAnon"], status["RssFile"], status["VmHWM"],
		byKind["anon"], byKind[".mem"], byKind[".sst"], byKind[".vlog"], byKind["other"],
		inMiB(ms.HeapInuse), inMiB(ms.Sys), inMiB(ms.HeapReleased))
	return memFigures{rss: status["VmRSS"], hwm: status["VmHWM"]}
}

func inMiB(v uint64) float64 { return float64(v) / (1 << 20) }

// readStatus returns the kB fields of /proc/self/status in MiB.
func readStatus(b *testing.B) map[string]float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	out := make(map[string]float64)
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		if f := strings.Fields(rest); ok && len(f) == 2 && f[1] == "kB" {
			kb, _ := strconv.ParseFloat(f[0], 64)
			out[name] = kb / 1024
		}
	}
	return out
}

// residentByMapping sums Rss from /proc/self/smaps per Badger file kind,
// in MiB; "anon" is every mapping without a path (the Go heap among them).
func residentByMapping(b *testing.B) map[string]float64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		b.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	out := make(map[string]float64)
	kind := "anon"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		f := bytes.Fields(line)
		if len(f) >= 5 && bytes.Contains(f[0], []byte("-")) && !bytes.HasSuffix(f[0], []byte(":")) {
			// A mapping header: range perms offset dev inode [path].
			kind = "anon"
			if len(f) >= 6 {
				switch ext := filepath.Ext(string(f[5])); ext {
				case ".mem", ".sst", ".vlog":
					kind = ext
				default:
					if !bytes.HasPrefix(f[5], []byte("[")) {
						kind = "other"
					}
				}
			}
			continue
		}
		if len(f) == 3 && string(f[0]) == "Rss:" {
			kb, _ := strconv.ParseFloat(string(f[1]), 64)
			out[kind] += kb / 1024
		}
	}
	return out
}

// writeHeapProfile writes heap-<name>.pprof into INBOX_BACKLOG_PROFILES,
// when that names a directory, to see what the Go heap holds.
func writeHeapProfile(b *testing.B, name string) {
	dir := os.Getenv("INBOX_BACKLOG_PROFILES")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, "heap-"+name+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS resets VmHWM to the current RSS (Linux 4.0+), so each
// phase reports its own peak.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset VmHWM: %v", err)
	}
}

func diskUsage(b *testing.B, dir string) string {
	sizes := make(map[string]int64)
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			sizes[filepath.Ext(e.Name())] += info.Size()
		}
	}
	var parts []string
	for _, ext := range []string{".sst", ".vlog", ".mem"} {
		parts = append(parts, ext+" "+strconv.FormatFloat(inMiB(uint64(sizes[ext])), 'f', 0, 64)+" MiB")
	}
	return strings.Join(parts, ", ")
}
