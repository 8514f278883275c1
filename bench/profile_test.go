package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCaddyProfile(t *testing.T) {
	var gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/pprof/profile" {
			http.NotFound(w, r)
			return
		}
		gotQuery = r.URL.RawQuery
		_, _ = w.Write([]byte("profile bytes"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	spec := runSpec{scenario: scenarioInbox, conns: 64, size: 400, round: 2}
	path := profilePath(filepath.Join(dir, "profiles"), spec)
	if want := filepath.Join(dir, "profiles", "inbox-c64-s400-r2.pprof"); path != want {
		t.Fatalf("profilePath = %s, want %s", path, want)
	}
	admin := strings.TrimPrefix(srv.URL, "http://")
	if err := startCaddyProfile(admin, 1500*time.Millisecond, path).wait(); err != nil {
		t.Fatal(err)
	}
	if gotQuery != "seconds=2" {
		t.Errorf("asked for %q, want seconds=2 (the window, rounded)", gotQuery)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "profile bytes" {
		t.Errorf("profile file = %q, %v", b, err)
	}
	if err := fetchTo(srv.URL+"/nope", filepath.Join(dir, "x"), time.Second); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("fetching a missing profile = %v, want a 404 error", err)
	}
}
