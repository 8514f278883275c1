package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// CPU and memory figures come from Linux /proc, read before and after the
// measured window.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat,
// from `getconf CLK_TCK`; 100 when getconf is missing.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// processCPUTicks returns utime+stime of pid in clock ticks.
func processCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime (field 14) and stime (field 15) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and may
// itself contain spaces and parentheses, so fields are counted from the
// last ')'.
func parseStatCPU(stat []byte) (int64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc stat: no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so field n is fields[n-3]
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the command name", len(fields))
	}
	var sum int64
	for _, f := range fields[14-3 : 15-3+1] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc stat cpu time %q: %w", f, err)
		}
		sum += n
	}
	return sum, nil
}

// peakRSSBytes returns VmHWM (the resident set's high-water mark) of pid.
func peakRSSBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(b, "VmHWM")
}

// parseStatusKB returns the value of a "Key:   N kB" line of
// /proc/PID/status (or /proc/meminfo), in bytes.
func parseStatusKB(status []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed %s line %q", key, sc.Text())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed %s line %q: %w", key, sc.Text(), err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}

// hostCPU is the machine-wide CPU time from the first line of /proc/stat,
// in clock ticks.
type hostCPU struct {
	busy, total int64
}

// readHostCPU samples /proc/stat.
func readHostCPU() (hostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, err
	}
	return parseHostCPU(b)
}

// parseHostCPU reads the aggregate "cpu" line: user nice system idle
// iowait irq softirq steal ...; idle and iowait count as not busy, guest
// time is already included in user and nice.
func parseHostCPU(stat []byte) (hostCPU, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return hostCPU{}, fmt.Errorf("malformed /proc/stat first line %q", line)
	}
	var c hostCPU
	for i, s := range f[1:] {
		if i >= 8 { // guest and guest_nice are part of user and nice
			break
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("malformed /proc/stat value %q: %w", s, err)
		}
		c.total += n
		if i != 3 && i != 4 {
			c.busy += n
		}
	}
	return c, nil
}

// busyPercent is the share of all CPUs busy between two samples.
func busyPercent(from, to hostCPU) float64 {
	if to.total <= from.total {
		return 0
	}
	return 100 * float64(to.busy-from.busy) / float64(to.total-from.total)
}
