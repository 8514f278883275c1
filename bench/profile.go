package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// caddyProfile is a CPU profile of caddy being taken through its admin
// endpoint's /debug/pprof over one measured window.
type caddyProfile struct {
	done chan error
}

// profilePath names the profile file of one run inside dir.
func profilePath(dir string, spec runSpec) string {
	return filepath.Join(dir, fmt.Sprintf("%s-c%d-s%d-r%d.pprof", spec.scenario, spec.conns, spec.size, spec.round))
}

// startCaddyProfile asks caddy at admin (host:port) for a CPU profile
// lasting d and writes it to path; wait returns once it is written.
func startCaddyProfile(admin string, d time.Duration, path string) *caddyProfile {
	p := &caddyProfile{done: make(chan error, 1)}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs)
	go func() {
		p.done <- fetchTo(url, path, d+30*time.Second)
	}()
	return p
}

func (p *caddyProfile) wait() error {
	return <-p.done
}

// fetchTo GETs url and writes the answer to path.
func fetchTo(url, path string, timeout time.Duration) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
