package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// readyTimeout bounds a caddy start-up, storage included.
const readyTimeout = 60 * time.Second

// buildCaddy builds ./caddy of the module rooted at root into dir.
func buildCaddy(root, dir string) (string, error) {
	bin := filepath.Join(dir, "caddy")
	cmd := exec.Command("go", "build", "-o", bin, "./caddy")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building caddy: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the go.mod that go run ./bench used.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("finding module root: run this from inside the module")
	}
	return filepath.Dir(gomod), nil
}

// gateway is one caddy process with its own folder: Caddyfile, log,
// XDG data and config, and inbox storage.
type gateway struct {
	cmd   *exec.Cmd
	dir   string
	admin string // host:port
	port  int    // site port
	done  chan struct{}
	log   *os.File
}

// startGateway writes caddyfile into dir, runs bin on it with extra
// environment env, and waits until the admin endpoint and the site port
// accept connections.
func startGateway(bin, dir, caddyfile string, c siteConfig, env []string) (*gateway, error) {
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(caddyfile), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "caddy.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(dir, "xdg-data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "xdg-config"),
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting caddy: %w", err)
	}
	g := &gateway{cmd: cmd, dir: dir, admin: c.admin, port: c.port, done: make(chan struct{}), log: logf}
	go func() {
		_ = cmd.Wait()
		close(g.done)
	}()
	if err := g.waitReady(); err != nil {
		g.kill()
		return nil, err
	}
	return g, nil
}

// pid is the caddy process ID.
func (g *gateway) pid() int { return g.cmd.Process.Pid }

func (g *gateway) waitReady() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			return fmt.Errorf("caddy exited during start-up:\n%s", g.logTail())
		case <-tick.C:
		}
		if g.listening(client) {
			return nil
		}
	}
	return fmt.Errorf("caddy not ready after %s:\n%s", readyTimeout, g.logTail())
}

func (g *gateway) listening(client *http.Client) bool {
	resp, err := client.Get("http://" + g.admin + "/config/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// alive reports whether the process is still running.
func (g *gateway) alive() bool {
	select {
	case <-g.done:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL and waits for it: each scenario
// starts from scratch, so nothing needs a graceful stop.
func (g *gateway) kill() {
	_ = g.cmd.Process.Kill()
	<-g.done
	g.log.Close()
}

// logTail returns the end of caddy's log.
func (g *gateway) logTail() string {
	b, _ := os.ReadFile(filepath.Join(g.dir, "caddy.log"))
	const max = 4000
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
