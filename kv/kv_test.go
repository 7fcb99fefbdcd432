package kv

import (
	"errors"
	"fmt"
	"testing"
)

func TestMemAndPrefix(t *testing.T) {
	base := NewMem()
	a, b := WithPrefix(base, "a/"), WithPrefix(base, "b/")
	for i := 3; i >= 1; i-- {
		if err := a.Put([]byte(fmt.Sprint("k", i)), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put([]byte("k1"), []byte("other")); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := a.Scan([]byte("k"), func(k, v []byte) error {
		got = append(got, fmt.Sprintf("%s=%d", k, v[0]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[k1=1 k2=2 k3=3]"; fmt.Sprint(got) != want {
		t.Fatalf("scan = %v, want %s", got, want)
	}
	if v, err := b.Get([]byte("k1")); err != nil || string(v) != "other" {
		t.Fatalf("b.Get = %q, %v", v, err)
	}
	if err := a.Delete([]byte("k2")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get([]byte("k2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: err = %v, want ErrNotFound", err)
	}
	stop := errors.New("stop")
	n := 0
	if err := a.Scan(nil, func(k, v []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("scan stop: err=%v n=%d", err, n)
	}
}
