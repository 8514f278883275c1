package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *options)
		wantErr string
	}{
		{
			name: "defaults match the baseline method (BENCHMARKS.md)",
			args: nil,
			check: func(t *testing.T, o *options) {
				want := &options{scenarios: []string{"proxy", "inbox", "ingest"}, rounds: 3, conns: []int{64}, sizes: []int{400},
					warmup: 2 * time.Second, duration: 10 * time.Second, drain: 10 * time.Second, concurrency: -1}
				if !reflect.DeepEqual(o, want) {
					t.Fatalf("got %+v, want %+v", o, want)
				}
			},
		},
		{
			name: "scaling lists",
			args: []string{"-conns", "1,16,64,256", "-size", "400,8KiB,256k", "-scenarios", "inbox,proxy,inbox"},
			check: func(t *testing.T, o *options) {
				if !reflect.DeepEqual(o.conns, []int{1, 16, 64, 256}) {
					t.Fatalf("conns = %v", o.conns)
				}
				if !reflect.DeepEqual(o.sizes, []int{400, 8192, 262144}) {
					t.Fatalf("sizes = %v", o.sizes)
				}
				if !reflect.DeepEqual(o.scenarios, []string{"inbox", "proxy"}) {
					t.Fatalf("scenarios = %v", o.scenarios)
				}
			},
		},
		{name: "unknown scenario", args: []string{"-scenarios", "proxy,nginx"}, wantErr: `unknown scenario "nginx"`},
		{name: "zero conns", args: []string{"-conns", "0"}, wantErr: "outside 1.."},
		{name: "bad conns", args: []string{"-conns", "a"}, wantErr: "-conns"},
		{name: "size too small", args: []string{"-size", "100"}, wantErr: "below the smallest"},
		{name: "empty size list", args: []string{"-size", ","}, wantErr: "empty list"},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: "-rounds"},
		{name: "negative concurrency", args: []string{"-concurrency", "-2"}, wantErr: "-concurrency"},
		{name: "negative app latency", args: []string{"-app-latency", "-1ms"}, wantErr: "-app-latency"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"plain", "400", 400, false},
		{"kib", "8KiB", 8192, false},
		{"k", "256k", 262144, false},
		{"mib", "1MiB", 1 << 20, false},
		{"m upper", "2M", 2 << 20, false},
		{"negative", "-1", 0, true},
		{"garbage", "big", 0, true},
		{"unit only", "KiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSize(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("parseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "go run ./bench"},
		{"plain flags", []string{"-rounds", "1", "-duration", "3s", "-conns", "1,16"}, "go run ./bench -rounds 1 -duration 3s -conns 1,16"},
		{"needs quoting", []string{"-caddy", "/tmp/my caddy"}, "go run ./bench -caddy '/tmp/my caddy'"},
		{"single quote", []string{"it's"}, `go run ./bench 'it'\''s'`},
		{"empty", []string{""}, "go run ./bench ''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commandLine(tt.args); got != tt.want {
				t.Fatalf("commandLine(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}
