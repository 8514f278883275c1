package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machineFacts describe where and on what a run happened, printed above
// the tables so a pasted result says what it measured.
type machineFacts struct {
	date     string // UTC, RFC 3339
	nproc    int
	cpuModel string
	memory   string // MemTotal
	kernel   string
	goVer    string
	caddy    string // `caddy version` of the binary under test
	repo     string // git commit of the module, and whether the tree is dirty
	loadAvg  string // 1, 5 and 15 minute load averages: other work skews the figures
}

// gatherFacts reads the machine facts; any it cannot read is "unknown".
// root is the module root (may be empty) and bin the caddy binary (may be
// empty when only the direct scenario runs).
func gatherFacts(root, bin string) machineFacts {
	f := machineFacts{
		date:     time.Now().UTC().Format(time.RFC3339),
		nproc:    runtime.NumCPU(),
		cpuModel: "unknown",
		memory:   "unknown",
		kernel:   "unknown",
		goVer:    runtime.Version(),
		caddy:    "none",
		repo:     "unknown",
		loadAvg:  "unknown",
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f3 := strings.Fields(string(b)); len(f3) >= 3 {
			f.loadAvg = strings.Join(f3[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		f.cpuModel = cpuModel(b)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if n, err := parseStatusKB(b, "MemTotal"); err == nil {
			f.memory = formatGiB(n)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if bin != "" {
		if out, err := exec.Command(bin, "version").Output(); err == nil {
			f.caddy = firstLine(out)
		}
	}
	if root != "" {
		if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
			f.repo = firstLine(out)
			if st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
				f.repo += " with uncommitted changes"
			}
		}
	}
	return f
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line)
}
