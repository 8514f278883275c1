package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testcaddy"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

// diskConfig stores unrouted events (no target) on the instance's data
// directory, which the test mounts as a 64 MiB tmpfs.
const diskConfig = `{
	admin [[.Admin]]
	webhook_inbox {
		storage_dir [[.Data]]
		min_free_space 16MiB
	}
}

http://:[[.HTTP]] {
	bind 127.0.0.1
	webhook_inbox chaos {
		secret {env.CHAOS_SOURCE_SECRET}
	}
}
`

// TestDiskFull fills a size-limited filesystem under the store with a
// steady sender: ingress turns to 503 + Retry-After, never a 2xx it could
// not store and never a crash; once a filler file is deleted, ingress
// resumes by itself.
func TestDiskFull(t *testing.T) {
	fillDisk(t, 64<<10, 10*time.Millisecond)
}

// TestDiskFullBurst is TestDiskFull with a sender that posts 900 KiB
// events back to back: more than min_free_space arrives within the one
// second a free-space reading is reused, so the bytes written since the
// reading must count (before that fix, Badger's mmap'd value log write
// died with SIGBUS and caddy exited).
func TestDiskFullBurst(t *testing.T) {
	fillDisk(t, 900<<10, 0)
}

// fillDisk posts events of padSize bytes, pause apart, onto a 64 MiB
// tmpfs with 44 MiB taken by a filler file and min_free_space 16MiB.
func fillDisk(t *testing.T, padSize int, pause time.Duration) {
	in := testcaddy.New(t, diskConfig, "CHAOS_SOURCE_SECRET="+sourceSecret)
	if err := os.MkdirAll(in.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", in.Data, "tmpfs", 0, "size=64m"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS) {
			testtool.Missing(t, "cannot mount a 64 MiB tmpfs here (the test needs root): %v", err)
		}
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		in.Kill() // the mount is busy while caddy runs
		if err := syscall.Unmount(in.Data, 0); err != nil {
			t.Errorf("unmounting %s: %v", in.Data, err)
			_ = syscall.Unmount(in.Data, syscall.MNT_DETACH)
		}
	})
	filler := filepath.Join(in.Data, "filler")
	if err := os.WriteFile(filler, make([]byte, 44<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	in.Start()

	pad := strings.Repeat("x", padSize)
	body := func(id string) []byte {
		return []byte(fmt.Sprintf(`{"id":%q,"event":"disk.fill","timestamp":%q,"pad":%q}`, id, time.Now().UTC().Format(time.RFC3339), pad))
	}
	var accepted []string
	var refused string
	statuses := map[int]int{}
	for i := 0; refused == "" && i < 2000; i++ {
		id := fmt.Sprintf("fill-%d", i)
		b := body(id)
		req, err := http.NewRequest(http.MethodPost, in.URL("/"), bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-UniCraft-Signature", signedBy(sourceSecret, b)["X-UniCraft-Signature"])
		got, err := send(req)
		if err != nil {
			t.Fatalf("event %d: no answer after %d accepted (%v); caddy crashed:\n%.1500s", i, len(accepted), err, crashReport(in.Log()))
		}
		statuses[got.status]++
		switch got.status {
		case http.StatusAccepted:
			accepted = append(accepted, id)
		case http.StatusServiceUnavailable:
			if got.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %s", got.body)
			}
			refused = id
		default:
			t.Fatalf("event %d: got %d %s while filling the disk", i, got.status, got.body)
		}
		time.Sleep(pause) // the sender's pace, not synchronisation

	}
	if refused == "" {
		t.Fatalf("no 503 after %d events: %v", len(accepted), statuses)
	}
	var st struct {
		Store struct {
			Free int64 `json:"free_space_bytes"`
		} `json:"store"`
	}
	adminJSON(t, in, "/webhook_inbox/stats", &st)
	t.Logf("%d events (%d KiB each) accepted, then 503; free space %.1f MiB", len(accepted), padSize>>10, float64(st.Store.Free)/(1<<20))

	// the disk stays full: every further post is refused, none half-stored
	for i := range 20 {
		id := fmt.Sprintf("full-%d", i)
		b := body(id)
		if got := post(t, in.URL("/"), b, signedBy(sourceSecret, b)); got.status != http.StatusServiceUnavailable || got.header.Get("Retry-After") == "" {
			t.Fatalf("post %d on a full disk: %d Retry-After=%q %s, want 503 with Retry-After", i, got.status, got.header.Get("Retry-After"), got.body)
		}
	}
	stored, _ := storedEvents(t, in)
	for _, id := range accepted {
		if _, ok := stored[id]; !ok {
			t.Errorf("event %s was answered 202 but is not stored", id)
		}
	}
	if len(stored) != len(accepted) {
		t.Errorf("%d events stored, %d accepted: a refused event was stored", len(stored), len(accepted))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	b := body(refused)
	var got reply
	waitUntil(t, 15*time.Second, "ingress to resume after space was freed", func() bool {
		got = post(t, in.URL("/"), b, signedBy(sourceSecret, b))
		if got.status != http.StatusAccepted && got.status != http.StatusServiceUnavailable {
			t.Fatalf("after freeing space: %d %s", got.status, got.body)
		}
		return got.status == http.StatusAccepted
	})
	checkLogLines(t, in)
	if log := in.Log(); strings.Contains(log, "panic") || strings.Contains(log, "SIGBUS") {
		t.Fatal("caddy panicked while the disk was full")
	}
}

// crashReport returns caddy's log from its first "fatal error" or panic,
// or the whole log.
func crashReport(log string) string {
	for _, marker := range []string{"unexpected fault address", "fatal error", "panic:"} {
		if i := strings.Index(log, marker); i >= 0 {
			return log[i:]
		}
	}
	return log
}
