//go:build ignore

// gen_common writes common-passwords.txt.gz, the list CheckPasswordPolicy
// refuses, from the npm package @zxcvbn-ts/language-common (MIT licence,
// © Dan Wheeler, Dropbox, Inc. and zxcvbn-ts): its src/passwords.json,
// the ranked list of common passwords that zxcvbn-ts matches against.
// Each entry is trimmed and lower-cased, duplicates dropped, rank order
// kept, one per line. Run from this directory:
//
//	npm pack @zxcvbn-ts/language-common@4.1.3
//	go run gen_common.go zxcvbn-ts-language-common-4.1.3.tgz
//
// (go generate ./staff does both.) The tarball's SHA-256 is checked, so a
// different file fails instead of silently changing the list.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	tarballSHA256 = "bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9"
	member        = "package/src/passwords.json"
	out           = "common-passwords.txt.gz"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen_common.go zxcvbn-ts-language-common-4.1.3.tgz")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	tgz, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(tgz); hex.EncodeToString(sum[:]) != tarballSHA256 {
		return fmt.Errorf("%s: SHA-256 %x, want %s (@zxcvbn-ts/language-common 4.1.3)", path, sum, tarballSHA256)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	var list []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: no %s", path, member)
		} else if err != nil {
			return err
		}
		if h.Name == member {
			if err := json.NewDecoder(tr).Decode(&list); err != nil {
				return fmt.Errorf("%s: %w", member, err)
			}
			break
		}
	}
	seen := map[string]bool{}
	var buf bytes.Buffer
	for _, p := range list {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || seen[p] || strings.ContainsAny(p, "\r\n") {
			continue
		}
		seen[p] = true
		buf.WriteString(p)
		buf.WriteByte('\n')
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Printf("%s: %d passwords\n", out, len(seen))
	return os.WriteFile(out, gz.Bytes(), 0o644)
}
