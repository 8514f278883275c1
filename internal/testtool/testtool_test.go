package testtool

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequire runs a test that needs a missing program in a child test
// binary, with and without CI set: under CI it must fail, elsewhere skip.
func TestRequire(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") != "" {
		Require(t, "no-such-program-for-testtool", "nothing installs it")
		t.Fatal("Require returned for a missing program")
	}
	tests := []struct {
		name     string
		ci       string
		wantFail bool
		wantText string
	}{
		{name: "under CI the test fails", ci: "true", wantFail: true, wantText: "required in CI: no-such-program-for-testtool not found"},
		{name: "elsewhere it is skipped", ci: "", wantFail: false, wantText: "--- SKIP: TestRequire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestRequire$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTTOOL_CHILD=1", "CI="+tc.ci)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Fatalf("child failed = %v, want %v:\n%s", failed, tc.wantFail, out)
			}
			if !strings.Contains(string(out), tc.wantText) {
				t.Errorf("child output lacks %q:\n%s", tc.wantText, out)
			}
		})
	}
	if _, err := exec.LookPath("go"); err == nil {
		if got := Require(t, "go", "it runs the tests"); got == "" {
			t.Error("Require found no path for go")
		}
	}
}
