package staff

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// I1: a password equal to the username, or on the list of common
// passwords, is refused whatever its case.
func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		user, password string
		ok             bool
	}{
		{"220102001001", "220102001001", false},
		{"zhang.wei", "Zhang.Wei", false},
		{"zhang.wei", " zhang.wei ", false},
		{"220102", "password", false},
		{"220102", "Password1", false},
		{"220102", "iloveyou", false},
		{"220102", "1qaz2wsx", false},
		{"220102", "QWERTYUIOP", false},
		{"220102", "12345678", false},
		{"220102", "qq123456", false},
		{"220102", "short", false},
		{"220102", strings.Repeat("x", MaxPassword+1), false},
		{"220102", "two\nlines here", false},
		{"220102", "correct horse battery", true},
		{"220102", "长白山天池2026秋", true},
		{"220102", RandomPassword(), true},
	} {
		err := CheckPasswordPolicy(tc.user, tc.password)
		if (err == nil) != tc.ok {
			t.Errorf("CheckPasswordPolicy(%q, %q) = %v, want ok=%v", tc.user, tc.password, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrPassword) {
			t.Errorf("CheckPasswordPolicy(%q, %q) = %v, not ErrPassword", tc.user, tc.password, err)
		}
	}
}

// Password checks run in at most GOMAXPROCS slots: with every slot taken
// a check waits, and gives up when its context ends, without hashing.
func TestPasswordChecksBounded(t *testing.T) {
	h, err := HashPassword("a long enough passphrase")
	if err != nil {
		t.Fatal(err)
	}
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := checkPassword(ctx, h, "a long enough passphrase"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("with every slot taken: %v, %v; want context.Canceled", ok, err)
	}
	<-hashSlots
	if ok, err := checkPassword(context.Background(), h, "a long enough passphrase"); !ok || err != nil {
		t.Errorf("with a slot free: %v, %v", ok, err)
	}
	for range cap(hashSlots) - 1 {
		<-hashSlots
	}
	if len(hashSlots) != 0 {
		t.Errorf("%d slots still taken", len(hashSlots))
	}
}

func TestCheckUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"220102001001", true},
		{"zhang.wei", true},
		{"张伟", true},
		{"", false},
		{"a b", false},
		{"a\tb", false},
		{"a\x00b", false},
		{"admin\u202e", false},   // right-to-left override
		{"ad\u200dmin", false},   // zero-width joiner
		{"\xff\xfeadmin", false}, // not UTF-8
		{strings.Repeat("a", MaxUsername+1), false},
	} {
		err := CheckUsername(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrUsername)) {
			t.Errorf("CheckUsername(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCheckDisplayName(t *testing.T) {
	for _, ok := range []string{"", "张敏", "阿依古丽·买买提", "Li Wei"} {
		if err := CheckDisplayName(ok); err != nil {
			t.Errorf("CheckDisplayName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{" 张敏", "张敏\n", "张\u202e敏", "张\x00敏", "\xff", strings.Repeat("张", MaxDisplayName+1)} {
		if err := CheckDisplayName(bad); !errors.Is(err, ErrDisplayName) {
			t.Errorf("CheckDisplayName(%q): %v, want ErrDisplayName", bad, err)
		}
	}
}
