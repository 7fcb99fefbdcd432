package store

import (
	"errors"
	"testing"

	"github.com/edgevault/edgevault/kv"
)

func TestMeta(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	m := kv.WithPrefix(db.Meta(), "reg/")
	for _, k := range []string{"b", "a", "c"} {
		if err := m.Put([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get([]byte("b")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	var got []string
	err := m.Scan(nil, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	if err != nil || len(got) != 2 || got[0] != "a=va" || got[1] != "c=vc" {
		t.Fatalf("scan: %v %v", got, err)
	}
	db.Close()
	if err := db.Meta().Put([]byte("x"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
}
