package archtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/jilin-health/cardseal"

var (
	goOnce sync.Once
	goPath string
	goErr  error
)

// goTool finds the go command: on PATH, else in the GOROOT this test was
// built with. It fails the test if there is none; it never skips.
func goTool(t *testing.T) string {
	t.Helper()
	goOnce.Do(func() {
		if goPath, goErr = exec.LookPath("go"); goErr == nil {
			return
		}
		p := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(p); err == nil {
			goPath, goErr = p, nil
		}
	})
	if goErr != nil {
		t.Fatalf("the dependency rules need the go command: %v", goErr)
	}
	return goPath
}

// goList runs `go list args…` in the module and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// deps returns every package the module's package pkg (relative to the
// module, say "api") imports, directly or not: `go list -deps`.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	return goList(t, "-deps", module+"/"+pkg)
}

// matches reports whether import path p is pattern or lies below it.
func matches(p, pattern string) bool {
	return p == pattern || strings.HasPrefix(p, pattern+"/")
}

// forbid fails t for every package of pkgs that depends, directly or not,
// on a package matching one of the patterns.
func forbid(t *testing.T, pkgs []string, patterns []string, why string) {
	t.Helper()
	for _, pkg := range pkgs {
		ds := deps(t, pkg)
		for _, p := range patterns {
			var hit []string
			for _, d := range ds {
				if matches(d, p) {
					hit = append(hit, d)
				}
			}
			if len(hit) > 0 {
				t.Errorf("%s imports %s, directly or not (%s): %s", pkg, p, strings.Join(hit, ", "), why)
			}
		}
	}
}

// httpPackages and sqlPackages are what the domain must never reach.
var (
	httpPackages = []string{"net/http", "github.com/labstack/echo", "golang.org/x/net/http", "golang.org/x/net/http2"}
	sqlPackages  = []string{"database/sql", "modernc.org/sqlite", "github.com/jackc/pgx", "github.com/lib/pq", "github.com/mattn/go-sqlite3"}
)

func TestAPIDoesNotImportStore(t *testing.T) {
	forbid(t, []string{"api"}, []string{module + "/store"},
		"handlers reach the registry through lifecycle and staff only")
}

func TestDomainImportsNoHTTPOrSQL(t *testing.T) {
	domain := []string{"lifecycle", "card", "org", "staff", "audit"}
	forbid(t, domain, httpPackages, "HTTP belongs to package api")
	forbid(t, domain, sqlPackages, "SQL belongs to package store, behind the domain's ports")
}

func TestStoreDecidesNoRule(t *testing.T) {
	forbid(t, []string{"store"}, []string{module + "/chain", module + "/signer", module + "/lifecycle", module + "/api"},
		"the store keeps records; it knows no seal-chain policy and signs nothing")
}

// layer is the place of each package of the application half: a package
// may import only packages of lower layers. Packages not listed (the
// cryptographic half: keys, pdf, seal, signer, verifier, chain, token,
// templates, statuslist, workday, and utilities) stand beside the layers:
// they may import org and card and nothing else of the application.
var layer = map[string]int{
	"org":          0, // levels, organisations, division codes
	"card":         1, // the application and the registry's records
	"audit":        2, // audit events and their chain
	"staff":        3, // accounts, passwords, sessions
	"lifecycle":    4, // the rules of a card
	"store":        4, // the records, on SQLite and PostgreSQL
	"api":          5, // HTTP
	"config":       5, // settings
	"cmd/cardseal": 6, // wiring
}

// besideLayers is the highest layer a package outside the table may
// import.
const besideLayers = 1

// leaves are the bottom of the application: what each may import of the
// module, whatever layer or half it belongs to.
var leaves = map[string][]string{
	"org":  {},
	"card": {"org"},
}

// isTestSupport reports whether a package exists for tests only: it is
// exempt from the layers but no other package may import it.
func isTestSupport(rel string) bool {
	base := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasSuffix(base, "test") || slices.Contains([]string{"store/internal/testdb", "internal/testtool"}, rel)
}

// graph returns the module's packages (relative paths) with the module
// packages each imports directly, test files not counted.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	g := map[string][]string{}
	// -e: list a module with an import cycle too, so that the cycle test
	// names it rather than failing on go list's error.
	for _, line := range goList(t, "-e", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg := rel(f[0])
		g[pkg] = nil
		for _, imp := range f[1:] {
			if matches(imp, module) {
				g[pkg] = append(g[pkg], rel(imp))
			}
		}
	}
	return g
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func TestLayers(t *testing.T) {
	g := graph(t)
	for pkg := range layer {
		if _, ok := g[pkg]; !ok {
			t.Errorf("the layer table names %s, which is no package of the module: update the table", pkg)
		}
	}
	for pkg, imports := range g {
		if isTestSupport(pkg) {
			continue
		}
		if allowed, ok := leaves[pkg]; ok {
			for _, imp := range imports {
				if !slices.Contains(allowed, imp) {
					t.Errorf("%s is a leaf and imports %s: it may import %v of the module only", pkg, imp, allowed)
				}
			}
		}
		lp, ranked := layer[pkg]
		for _, imp := range imports {
			if isTestSupport(imp) {
				t.Errorf("%s imports the test support package %s", pkg, imp)
				continue
			}
			li, impRanked := layer[imp]
			switch {
			case !impRanked:
				// The cryptographic half and utilities serve every layer.
			case ranked && li >= lp:
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only lower layers", pkg, lp, imp, li)
			case !ranked && li > besideLayers:
				t.Errorf("%s, outside the application's layers, imports %s (layer %d): it may use org and card only", pkg, imp, li)
			}
		}
	}
}

// TestNoImportCycles checks the whole module graph, the packages outside
// the layers too. The build refuses a cycle as well; this names it.
func TestNoImportCycles(t *testing.T) {
	g := graph(t)
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(p string)
	visit = func(p string) {
		switch state[p] {
		case open:
			i := slices.Index(path, p)
			t.Errorf("import cycle: %s → %s", strings.Join(path[i:], " → "), p)
			return
		case done:
			return
		}
		state[p] = open
		path = append(path, p)
		for _, q := range g[p] {
			visit(q)
		}
		path = path[:len(path)-1]
		state[p] = done
	}
	pkgs := make([]string, 0, len(g))
	for p := range g {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	for _, p := range pkgs {
		visit(p)
	}
	if len(pkgs) < len(layer) {
		t.Fatalf("go list found %d packages: the module is not where the test looks", len(pkgs))
	}
}
