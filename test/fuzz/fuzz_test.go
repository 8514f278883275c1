// Package fuzz runs every fuzz target of the repo for a few seconds, so
// `go test ./...` (and so CI) fuzzes briefly on each run; the seed
// corpora also run as plain tests in their own packages. Fuzz longer by
// hand: go test ./signature -run '^$' -fuzz FuzzVerify -fuzztime 5m
package fuzz

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzTime is how long each target runs here.
const fuzzTime = "3s"

// targets are every fuzz target, by package.
var targets = []struct{ pkg, name string }{
	{"./signature", "FuzzVerify"},
	{"./ingress", "FuzzParsePayload"},
	{"./ingress", "FuzzScanPayload"},
	{"./ingress", "FuzzValidateEventID"},
	{"./rules", "FuzzCompileRule"},
	{"./relay", "FuzzParseRetryAfter"},
	{"./module", "FuzzCaddyfile"},
}

func TestFuzzTargetsBriefly(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range targets {
		t.Run(tt.name, func(t *testing.T) {
			// new interesting inputs go to a temp cache, not the repo's testdata
			cmd := exec.Command("go", "test", tt.pkg, "-run", "^$", "-fuzz", "^"+tt.name+"$",
				"-fuzztime", fuzzTime, "-test.fuzzcachedir", t.TempDir())
			cmd.Dir = root
			cmd.Env = os.Environ()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", tt.pkg, tt.name, err, out)
			}
			if !strings.Contains(string(out), "ok ") {
				t.Fatalf("%s %s did not report ok:\n%s", tt.pkg, tt.name, out)
			}
		})
	}
}
