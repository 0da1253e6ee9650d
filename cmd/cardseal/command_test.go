package main

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// walk calls f for every command of the table, groups included.
func walk(list []*command, f func(*command)) {
	for _, c := range list {
		f(c)
		walk(c.sub, f)
	}
}

// TestCommandTable: the table is well formed, and each command's help is
// what the table says, printed the same by 'cardseal help NAME' and by
// 'cardseal NAME --help'.
func TestCommandTable(t *testing.T) {
	names := map[string]bool{}
	walk(commands, func(c *command) {
		t.Run(c.name, func(t *testing.T) {
			if names[c.name] {
				t.Fatalf("two commands named %q", c.name)
			}
			names[c.name] = true
			if c.short == "" || strings.Contains(c.short, "\n") || strings.TrimSpace(c.long) == "" {
				t.Errorf("short %q, long %q: want one line and a paragraph", c.short, c.long)
			}
			if (c.sub == nil) == (c.flags == nil) {
				t.Fatalf("a command has either subcommands or flags and a run function")
			}
			for _, s := range c.sub {
				if s.name != c.name+" "+s.leaf() {
					t.Errorf("subcommand %q of %q", s.name, c.name)
				}
			}
			words := strings.Fields(c.name)
			code, viaHelp, stderr := cli(t, append([]string{"help"}, words...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("help %s: exit %d, %s", c.name, code, stderr)
			}
			code, viaFlag, stderr := cli(t, append(words, "--help")...)
			if code != 0 || stderr != "" || viaFlag != viaHelp {
				t.Fatalf("%s --help: exit %d %s\n%s\nwant the text of 'cardseal help %s':\n%s", c.name, code, stderr, viaFlag, c.name, viaHelp)
			}
			if !strings.HasPrefix(viaHelp, "usage: "+c.usageLine()+"\n\n"+strings.TrimSpace(c.long)+"\n") {
				t.Errorf("help of %s does not start with its usage line and long text:\n%s", c.name, viaHelp)
			}
			if c.sub != nil {
				for _, s := range c.sub {
					if !strings.Contains(viaHelp, "  "+s.name+" ") || !strings.Contains(viaHelp, s.short) {
						t.Errorf("help of %s does not list %s", c.name, s.name)
					}
				}
				return
			}
			fs, _, _ := c.flagSet()
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(viaHelp, "\n  --"+f.Name) {
					t.Errorf("help of %s does not show --%s", c.name, f.Name)
				}
			})
			// The usage line names only flags the command has.
			for _, m := range regexp.MustCompile(`--([a-z][a-z-]*)`).FindAllStringSubmatch(c.args, -1) {
				if fs.Lookup(m[1]) == nil {
					t.Errorf("usage line of %s names --%s, which it does not have", c.name, m[1])
				}
			}
			// An unknown flag is a usage error whose hint is the usage line.
			code, _, stderr = cli(t, append(words, "--no-such-flag")...)
			if code == 0 || !strings.Contains(stderr, "error: flag provided but not defined: -no-such-flag\nhint: usage: "+c.usageLine()) {
				t.Errorf("%s --no-such-flag: exit %d\n%s", c.name, code, stderr)
			}
		})
	})
	_, top, _ := cli(t, "help")
	walk(commands, func(c *command) {
		if c.sub == nil && !strings.Contains(top, "  "+c.name+" ") {
			t.Errorf("'cardseal help' does not list %s", c.name)
		}
	})
	// Groups: a missing or unknown subcommand names every one of them.
	walk(commands, func(g *command) {
		if g.sub == nil {
			return
		}
		for _, args := range [][]string{{}, {"frobnicate"}} {
			code, _, stderr := cli(t, append(strings.Fields(g.name), args...)...)
			if code != 1 || !strings.HasPrefix(stderr, "error: ") {
				t.Errorf("%s %v: exit %d %s", g.name, args, code, stderr)
			}
			for _, s := range g.sub {
				if !strings.Contains(stderr, "'cardseal "+s.name+"'") {
					t.Errorf("%s %v: the hint omits %s:\n%s", g.name, args, s.name, stderr)
				}
			}
		}
	})
	if code, _, stderr := cli(t, "help", "frobnicate"); code != 1 || !strings.Contains(stderr, "hint: run 'cardseal help'") {
		t.Errorf("help of an unknown command: %d %s", code, stderr)
	}
	if code, stdout, _ := cli(t); code != 2 || stdout != "" {
		t.Errorf("no command: exit %d", code)
	}
}

// reference is a command line named in a text: "cardseal keys csr --org".
var reference = regexp.MustCompile(`cardseal((?: +[^\s'"` + "`" + `;,()]+)+)`)

// word is a command or flag name; anything else is a placeholder
// (<command>, %s, CODE, …).
var word = regexp.MustCompile(`^[a-z][a-z-]*$`)

// checkReference resolves the words after "cardseal" in a text to a
// command and checks the flags given to it. Unless strict, words that do
// not start with a command name are prose ("cardseal does not …").
func checkReference(words []string, strict bool) string {
	if len(words) > 0 && words[0] == "help" {
		words = words[1:]
	}
	if len(words) == 0 || !word.MatchString(words[0]) {
		return ""
	}
	cmd, rest, group, bad := find(words)
	switch {
	case cmd == nil && group == nil:
		if !strict {
			return ""
		}
		return "no command " + strconv.Quote(bad)
	case cmd == nil && word.MatchString(bad):
		return "no command " + strconv.Quote(group.name+" "+bad)
	case cmd == nil:
		return ""
	}
	fs, _, _ := cmd.flagSet()
	for _, w := range rest {
		if name, ok := strings.CutPrefix(w, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if word.MatchString(name) && fs.Lookup(name) == nil {
				return cmd.name + " has no flag --" + name
			}
		}
	}
	return ""
}

// TestCommandReferences: every command line named in the table's texts,
// in the strings of this package and in the documentation's code names a
// command that exists, with flags it has. Quoted references ('cardseal …'
// and `cardseal …`) must name a command; elsewhere "cardseal" followed by
// a word that is no command is prose.
func TestCommandReferences(t *testing.T) {
	check := func(where, text string) {
		t.Helper()
		for _, m := range reference.FindAllStringSubmatchIndex(text, -1) {
			strict := m[0] > 0 && strings.ContainsRune("'`", rune(text[m[0]-1]))
			words := strings.Fields(text[m[2]:m[3]])
			if msg := checkReference(words, strict); msg != "" {
				t.Errorf("%s: %q: %s", where, text[m[0]:m[1]], msg)
			}
		}
	}
	walk(commands, func(c *command) {
		check("help of "+c.name, c.usageLine()+"\n"+c.short+"\n"+c.long)
		if c.flags != nil {
			fs, _, _ := c.flagSet()
			fs.VisitAll(func(f *flag.Flag) { check("flag --"+f.Name+" of "+c.name, f.Usage) })
		}
	})
	// The strings of this package: hints, messages, output.
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			if lit, ok := node.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && strings.Contains(s, "cardseal ") {
					n++
					check(fset.Position(lit.Pos()).String(), s)
				}
			}
			return true
		})
	}
	if n < 40 {
		t.Fatalf("only %d strings name a command: the scan is broken", n)
	}
	// The documentation: inline code and the command lines of code blocks.
	docs, _ := filepath.Glob("../../docs/*.md")
	for _, doc := range append(docs, "../../README.md") {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		inBlock := false
		for i, line := range strings.Split(string(b), "\n") {
			where := filepath.Base(doc) + ":" + strconv.Itoa(i+1)
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inBlock = !inBlock
				continue
			}
			if inBlock {
				if l := strings.TrimPrefix(strings.TrimSpace(line), "$ "); strings.HasPrefix(l, "cardseal ") {
					check(where, "`"+l)
				}
				continue
			}
			for _, code := range regexp.MustCompile("`(cardseal [^`]*)`").FindAllStringSubmatch(line, -1) {
				check(where, "`"+code[1])
			}
		}
	}
	// The check itself fails on what it is there to catch.
	for _, bad := range []string{"'cardseal kyes csr'", "'cardseal keys sign'", "'cardseal keys csr --organisation X'", "`cardseal frobnicate`"} {
		m := reference.FindStringSubmatchIndex(bad)
		if checkReference(strings.Fields(bad[m[2]:m[3]]), true) == "" {
			t.Errorf("%s passed the check", bad)
		}
	}
}
