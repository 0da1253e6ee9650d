package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestEveryActionHasALabel reads the action constants from the source, so
// an action added without a label fails here (the console would show its
// raw name).
func TestEveryActionHasALabel(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "action.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Action" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("action %s is not a string literal", vs.Names[0])
				}
				s, _ := strconv.Unquote(lit.Value)
				n++
				if a := Action(s); a.Label() == s || a.Label() == "" {
					t.Errorf("action %s (%q) has no label", vs.Names[0], s)
				}
			}
		}
	}
	if n < 20 || n != len(Actions()) {
		t.Errorf("%d action constants, %d labels: every action needs one label and every label one action", n, len(Actions()))
	}
}
