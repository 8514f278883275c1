// Package fuzz runs every fuzz target of the repo for a few seconds, so
// `go test ./...` (and so CI) fuzzes briefly on each run; the seed
// corpora also run as plain tests in their own packages. Fuzz longer by
// hand: go test ./signature -run '^$' -fuzz FuzzVerify -fuzztime 5m
package fuzz

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzTime is how long each target runs here.
const fuzzTime = "2s"

// targets are every fuzz target, by package.
var targets = []struct{ pkg, name string }{
	{"./signature", "FuzzVerify"},
	{"./ingress", "FuzzParsePayload"},
	{"./ingress", "FuzzScanPayload"},
	{"./ingress", "FuzzValidateEventID"},
	{"./rules", "FuzzCompileRule"},
	{"./relay", "FuzzParseRetryAfter"},
	{"./relay", "FuzzHeaderValue"},
	{"./module", "FuzzCaddyfile"},
}

// TestEveryFuzzTargetListed finds the fuzz targets in the repo's test
// files, so a new one cannot be left out of the brief runs.
func TestEveryFuzzTargetListed(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	listed := make(map[string]bool, len(targets))
	for _, tt := range targets {
		listed["./"+filepath.Clean(tt.pkg)+" "+tt.name] = true
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, line := range strings.Split(string(src), "\n") {
			name, ok := strings.CutPrefix(line, "func Fuzz")
			if !ok {
				continue
			}
			name = "Fuzz" + name[:strings.IndexByte(name, '(')]
			if key := "./" + filepath.ToSlash(rel) + " " + name; !listed[key] {
				t.Errorf("%s is not in this package's targets", key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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
