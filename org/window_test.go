package org

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestParseWindows: the example file of docs/service-windows.md parses
// to its windows; every kind of wrong file is ErrWindows.
func TestParseWindows(t *testing.T) {
	f, err := os.Open("../examples/windows.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ws, err := ParseWindows(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 3 || ws[0].Code != "220102" || ws[1].Phone != "0431-88000101" || ws[2].Hours != "" || !strings.Contains(ws[1].Address, "永吉街道") {
		t.Fatalf("windows %+v", ws)
	}
	// Padded codes are accepted.
	ws, err = ParseWindows(strings.NewReader("code,address,phone,hours\n220102001000,地址,0431-1,\n"))
	if err != nil || ws[0].Code != "220102001" {
		t.Fatalf("padded code: %+v %v", ws, err)
	}
	for name, body := range map[string]string{
		"no header":    "220102,地址,0431-1,\n",
		"village":      "code,address,phone,hours\n220102001001,地址,0431-1,\n",
		"twice":        "code,address,phone,hours\n220102,地址,0431-1,\n220102,地址,0431-2,\n",
		"no phone":     "code,address,phone,hours\n220102,地址,,\n",
		"control":      "code,address,phone,hours\n220102,\"地\x01址\",0431-1,\n",
		"columns":      "code,address,phone,hours\n220102,地址,0431-1\n",
		"long address": "code,address,phone,hours\n220102," + strings.Repeat("址", 201) + ",0431-1,\n",
		"not a code":   "code,address,phone,hours\nabc,地址,0431-1,\n",
	} {
		if _, err := ParseWindows(strings.NewReader(body)); !errors.Is(err, ErrWindows) {
			t.Errorf("%s: %v, want ErrWindows", name, err)
		}
	}
}
