package main

import (
	"math"
	"os"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    int64
		wantErr bool
	}{
		{
			name: "caddy",
			stat: "4242 (caddy) S 1 4242 4242 0 -1 4194560 9120 0 0 0 1530 247 0 0 20 0 9 0 123 1500000000 12000 18446744073709551615",
			want: 1530 + 247,
		},
		{
			name: "command with spaces and parentheses",
			stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 5 0 0",
			want: 33,
		},
		{name: "truncated", stat: "7 (x) R 1 2 3", wantErr: true},
		{name: "no command", stat: "7 x R", wantErr: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 aa 22 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tcaddy\nVmPeak:\t 1300000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   80000 kB\nBad:\t12\n"
	tests := []struct {
		name    string
		key     string
		want    int64
		wantErr bool
	}{
		{"high-water mark", "VmHWM", 81234 << 10, false},
		{"resident", "VmRSS", 80000 << 10, false},
		{"missing", "VmSwap", 0, true},
		{"no unit", "Bad", 0, true},
		{"prefix is not a match", "Vm", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatusKB([]byte(status), tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHostCPU(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     float64
		wantErr  bool
	}{
		{
			name: "half busy",
			from: "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n",
			to:   "cpu  150 0 150 750 150 0 0 0 0 0\n",
			want: 50,
		},
		{
			name: "guest time is not counted twice",
			from: "cpu  0 0 0 0 0 0 0 0 0 0",
			to:   "cpu  80 0 20 100 0 0 0 0 80 0",
			want: 50,
		},
		{name: "no cpu line", from: "intr 1 2 3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := parseHostCPU([]byte(tt.from))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			to, err := parseHostCPU([]byte(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if got := busyPercent(from, to); got != tt.want {
				t.Fatalf("busyPercent = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestProcOfSelf reads this test process's own /proc entries, so the
// parsers are checked against the running kernel's format too.
func TestProcOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	if _, err := processCPUTicks(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if rss, err := peakRSSBytes(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("peakRSSBytes = %d, %v", rss, err)
	}
	if _, err := readHostCPU(); err != nil {
		t.Fatal(err)
	}
	if n := clockTicks(); n <= 0 {
		t.Fatalf("clockTicks = %d", n)
	}
}

func TestPerEvent(t *testing.T) {
	tests := []struct {
		name                    string
		ticks, clockTick, count int64
		want                    float64
	}{
		{"100 Hz", 150, 100, 10000, 150}, // 1.5 s of CPU over 10k events
		{"1000 Hz", 1500, 1000, 10000, 150},
		{"no events", 150, 100, 0, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := perEvent(tt.ticks, tt.clockTick, tt.count)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Fatalf("perEvent = %v, want %v", got, tt.want)
			}
		})
	}
}
