package layout

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/webhookinbox/caddy-webhook-inbox/"

// deps lists the non-standard packages pkg imports, directly or not,
// itself excluded.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var list []string
	for _, p := range strings.Fields(string(out)) {
		if p != mod+pkg {
			list = append(list, p)
		}
	}
	return list
}

func TestImportRules(t *testing.T) {
	tests := []struct {
		name string
		pkg  string
		// allowed reports whether pkg may depend on dep.
		allowed func(dep string) bool
	}{
		{name: "the contract imports the standard library only", pkg: "store",
			allowed: none},
		{name: "the conformance suite imports the contract only", pkg: "store/storetest",
			allowed: only("store")},
		{name: "the console's assets import the standard library only", pkg: "console",
			allowed: none},
		{name: "signature imports the standard library only", pkg: "signature",
			allowed: none},
		{name: "ingress imports signature and x/time/rate only", pkg: "ingress",
			allowed: func(dep string) bool { return dep == mod+"signature" || dep == "golang.org/x/time/rate" }},
		{name: "the admin API's shapes import the contract only", pkg: "adminapi",
			allowed: only("store")},
		{name: "rules imports cel-go, not Caddy", pkg: "rules",
			allowed: notCaddyNorOurs},
		{name: "the Badger backend imports the contract and Badger, never relay", pkg: "store/badger",
			allowed: func(dep string) bool { return notCaddyNorOurs(dep) || dep == mod+"store" }},
		{name: "the NATS backend imports the contract and the NATS client, never relay", pkg: "store/nats",
			allowed: func(dep string) bool { return notCaddyNorOurs(dep) || dep == mod+"store" }},
		{name: "delivery imports the contract, never a backend, never Caddy", pkg: "relay",
			allowed: func(dep string) bool {
				return notCaddyNorOurs(dep) || slices.Contains([]string{mod + "store", mod + "signature", mod + "rules", mod + "relay/reencode"}, dep)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dep := range deps(t, tt.pkg) {
				if !tt.allowed(dep) {
					t.Errorf("%s imports %s", tt.pkg, dep)
				}
			}
		})
	}
}

func none(string) bool { return false }

func only(pkgs ...string) func(string) bool {
	return func(dep string) bool {
		for _, p := range pkgs {
			if dep == mod+p {
				return true
			}
		}
		return false
	}
}

// notCaddyNorOurs allows a third-party package that is not Caddy.
func notCaddyNorOurs(dep string) bool {
	return !strings.HasPrefix(dep, mod) && !strings.HasPrefix(dep, "github.com/caddyserver/")
}

// TestOnlyGlueImportsCaddy checks that no package but module, cli and the
// binary's main (and the tests' helpers, which run the binary) imports
// Caddy, so everything else can be read, tested and benchmarked alone.
func TestOnlyGlueImportsCaddy(t *testing.T) {
	out, err := exec.Command("go", "list", mod+"...").Output()
	if err != nil {
		t.Fatal(err)
	}
	glue := []string{"module", "cli", "caddy"}
	for _, pkg := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(pkg, mod)
		if slices.Contains(glue, rel) {
			continue
		}
		for _, dep := range deps(t, rel) {
			if strings.HasPrefix(dep, "github.com/caddyserver/") || slices.Contains(glue, strings.TrimPrefix(dep, mod)) {
				t.Errorf("%s imports %s", rel, dep)
				break
			}
		}
	}
}
