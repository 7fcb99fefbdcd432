package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// openStore opens a store at <data>/store, closed at the end of the test.
func openStore(t testing.TB, data string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(data, storeDir), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fill appends n points to each of three series, one per second from t0.
func fill(t testing.TB, db *store.DB, n int) {
	t.Helper()
	var rs []point.Reading
	for i := range n {
		for s := range 3 {
			rs = append(rs, point.Reading{Device: fmt.Sprint("d", s), Metric: "temp",
				Time: t0.UnixMilli() + int64(i)*1000, Value: point.Float(float64(i) + float64(s)/10)})
		}
	}
	if _, err := db.Append(rs); err != nil {
		t.Fatal(err)
	}
}

// checkPoints checks that the store under data holds what fill(n) wrote.
func checkPoints(t testing.TB, data string, n int) {
	t.Helper()
	db := openStore(t, data)
	for s := range 3 {
		res, err := db.Query(context.Background(), store.Query{Device: fmt.Sprint("d", s), Metric: "temp",
			From: t0.UnixMilli(), To: t0.UnixMilli() + int64(n)*1000, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Samples) != n {
			t.Fatalf("series d%d: %d points, want %d", s, len(res.Samples), n)
		}
		for i, p := range res.Samples {
			if p.V.Float() != float64(i)+float64(s)/10 {
				t.Fatalf("series d%d point %d: %v", s, i, p.V)
			}
		}
	}
}

// archiveOf backs db (a store under data) up into memory.
func archiveOf(t testing.TB, db *store.DB, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, db, data, Manifest{Kind: "edge", Created: t0}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// entry is one member of a hand-made archive.
type entry struct {
	name, body, link string
	typ              byte // 0 means tar.TypeReg
}

func manifestEntry(format int) entry {
	b, _ := json.Marshal(Manifest{Format: format, Kind: "edge", Created: t0})
	return entry{name: manifestName, body: string(b)}
}

// sumsEntry lists the regular store entries of es.
func sumsEntry(es ...entry) entry {
	var s sums
	for _, e := range es {
		if e.typ == 0 && e.name != manifestName {
			h := sha256.Sum256([]byte(e.body))
			s.Files = append(s.Files, fileSum{Path: e.name, Size: int64(len(e.body)), SHA256: hex.EncodeToString(h[:])})
		}
	}
	b, _ := json.Marshal(s)
	return entry{name: sumsName, body: string(b)}
}

// tarZst builds an archive of es, in order.
func tarZst(t testing.TB, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Typeflag: typ, Name: e.name, Linkname: e.link, Mode: 0o600, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); typ == tar.TypeReg && err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listing is the names in dir, to check that a failed restore left nothing.
func listing(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
