// Package testtool is how a test says it needs a program installed
// (promtool, node, python3 with flask, chromium): found, the test runs;
// missing under CI (CI set, as .ci/run is run), the test fails, since a
// skip there would hide that nothing was checked; missing on a
// developer's machine, the test is skipped with one line that is seen.
//
// `go test ./...` shows nothing of a passing package's output, skips
// included, so the line also goes straight to the terminal when there is
// one.
package testtool

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of the program name, or fails or skips t as
// the package comment says; hint tells how to install it.
func Require(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found (%s)", name, hint)
	}
	return path
}

// Missing fails t under CI and skips it elsewhere, saying why.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("required in CI: %s", msg)
	}
	announce(t.Name(), msg)
	t.Skip(msg + " (it fails instead when CI is set)")
}

// announce writes a skip to the terminal, if the tests run at one, past go
// test's buffering of passing packages' output.
func announce(test, msg string) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintf(tty, "SKIP %s: %s\n", test, msg)
}

// Optional skips t, saying why, for a check that is extra everywhere (CI
// does not install its program either).
func Optional(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	announce(t.Name(), msg)
	t.Skip(msg)
}
