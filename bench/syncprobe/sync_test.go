//go:build linux

// Package syncprobe measures what making a small write durable costs on
// this machine's disk, the floor under every group commit:
//
//	go test -run '^$' -bench . ./bench/syncprobe
//
// Each op writes 20 KiB (about one group commit of 400-byte events) at the
// next offset of a 64 MiB file and syncs it, four ways: through a shared
// mmap with msync, as Badger's value log and WAL do, or with pwrite and
// fdatasync, each on a sparse file (how Badger creates its files) and on
// one whose blocks were written beforehand. cpu-µs/op is the process's
// user+system CPU per op; ns/op is wall time.
package syncprobe

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	fileSize  = 64 << 20
	writeSize = 20 << 10
)

func BenchmarkSync(b *testing.B) {
	for _, c := range []struct {
		name    string
		written bool
		mmap    bool
	}{
		{"msync/sparse", false, true},
		{"msync/written", true, true},
		{"fdatasync/sparse", false, false},
		{"fdatasync/written", true, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := openFile(b, c.written)
			var data []byte
			if c.mmap {
				var err error
				data, err = unix.Mmap(int(f.Fd()), 0, fileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
				if err != nil {
					b.Fatal(err)
				}
				defer unix.Munmap(data)
			}
			payload := make([]byte, writeSize)
			for i := range payload {
				payload[i] = byte(i)
			}
			off := 0
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				if off+writeSize > fileSize {
					off = 0
				}
				if c.mmap {
					copy(data[off:], payload)
					if err := unix.Msync(data, unix.MS_SYNC); err != nil {
						b.Fatal(err)
					}
				} else {
					if _, err := f.WriteAt(payload, int64(off)); err != nil {
						b.Fatal(err)
					}
					if err := unix.Fdatasync(int(f.Fd())); err != nil {
						b.Fatal(err)
					}
				}
				off += writeSize
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// openFile creates the 64 MiB file: sparse, or with every block written
// and synced.
func openFile(b *testing.B, written bool) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "probe"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if !written {
		if err := f.Truncate(fileSize); err != nil {
			b.Fatal(err)
		}
		return f
	}
	zeros := make([]byte, 1<<20)
	for range fileSize / len(zeros) {
		if _, err := f.Write(zeros); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return f
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
