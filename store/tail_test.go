package store

import (
	"testing"

	"github.com/edgevault/edgevault/point"
)

// tailLog collects what a tail consumer receives.
type tailLog struct {
	seqs []uint64
	rs   []point.Reading
}

func (l *tailLog) fn(seq uint64, rs []point.Reading) {
	l.seqs = append(l.seqs, seq)
	l.rs = append(l.rs, rs...)
}

func TestTailFeedsCommitsInOrder(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	mustAppend(t, db, rd("early", "m", 1, point.Float(1))) // before Tail: not fed
	var l tailLog
	if err := db.Tail(l.fn); err != nil {
		t.Fatal(err)
	}
	tags := []point.Tag{{Key: "room", Value: "hall"}}
	mustAppend(t, db, rd("d", "m", t0, point.Float(1.5)), point.Reading{Device: "d", Metric: "n", Tags: tags, Time: t0, Value: point.Int(7)})
	mustAppend(t, db, rd("d", "m", t0+1000, point.Int(2))) // converted to the float series
	res := mustAppend(t, db, rd("d", "m", t0+2000, point.Bool(true)))
	if len(res.Rejected) != 1 {
		t.Fatalf("kind conflict not rejected: %+v", res)
	}
	if len(l.seqs) != 2 || l.seqs[0] >= l.seqs[1] {
		t.Fatalf("seqs %v, want two increasing (the rejected-only append stores nothing)", l.seqs)
	}
	want := []point.Reading{
		rd("d", "m", t0, point.Float(1.5)),
		{Device: "d", Metric: "n", Tags: tags, Time: t0, Value: point.Int(7)},
		rd("d", "m", t0+1000, point.Float(2)),
	}
	if len(l.rs) != len(want) {
		t.Fatalf("got %d readings, want %d: %+v", len(l.rs), len(want), l.rs)
	}
	for i := range want {
		g, w := l.rs[i], want[i]
		if g.SeriesKey() != w.SeriesKey() || g.Time != w.Time || !g.Value.Equal(w.Value) {
			t.Errorf("reading %d: got %+v, want %+v", i, g, w)
		}
	}
	if err := db.Tail(l.fn); err == nil {
		t.Fatal("second Tail accepted")
	}
}

// TestTailKeepsUnconfirmed: what the consumer did not confirm is fed again
// after a restart, even though a checkpoint sealed it into blocks.
func TestTailKeepsUnconfirmed(t *testing.T) {
	dir := t.TempDir()
	db := openT(t, dir, Options{})
	var l tailLog
	if err := db.Tail(l.fn); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustAppend(t, db, rd("d", "m", t0+int64(i)*1000, point.Float(float64(i))))
	}
	if err := db.Confirm(l.seqs[1]); err != nil {
		t.Fatal(err)
	}
	if err := db.checkpoint(true); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openT(t, dir, Options{})
	var again tailLog
	if err := db.Tail(again.fn); err != nil {
		t.Fatal(err)
	}
	if len(again.rs) != 3 || again.rs[0].Time != t0+2000 || again.seqs[0] != l.seqs[2] {
		t.Fatalf("after restart got %+v (seqs %v), want the 3 unconfirmed commits %v", again.rs, again.seqs, l.seqs[2:])
	}
	if err := db.Confirm(again.seqs[2]); err != nil {
		t.Fatal(err)
	}
	if err := db.Confirm(1); err != nil { // never moves back
		t.Fatal(err)
	}
	db.Close()

	db = openT(t, dir, Options{})
	var none tailLog
	if err := db.Tail(none.fn); err != nil {
		t.Fatal(err)
	}
	if len(none.rs) != 0 {
		t.Fatalf("confirmed commits fed again: %+v", none.rs)
	}
	if res := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 1e6}); len(res.Samples) != 5 {
		t.Fatalf("store lost points: %d", len(res.Samples))
	}
	n, err := db.DropTail()
	if err != nil || n != 0 {
		t.Fatalf("DropTail = %d, %v", n, err)
	}
}

// TestDropTailReleasesWAL: without a consumer the WAL is truncated again.
func TestDropTailReleasesWAL(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	var l tailLog
	if err := db.Tail(l.fn); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, rd("d", "m", t0, point.Float(1)))
	mustAppend(t, db, rd("d", "m", t0+1, point.Float(2)))
	if err := db.checkpoint(true); err != nil {
		t.Fatal(err)
	}
	if n := countWAL(t, db); n != 2 {
		t.Fatalf("unconfirmed WAL records kept: %d, want 2", n)
	}
	if n, err := db.DropTail(); err != nil || n != 2 {
		t.Fatalf("DropTail = %d, %v; want 2 unconfirmed", n, err)
	}
	if err := db.checkpoint(true); err != nil {
		t.Fatal(err)
	}
	if n := countWAL(t, db); n != 0 {
		t.Fatalf("WAL records after DropTail and checkpoint: %d", n)
	}
}

func countWAL(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	if err := db.scan([]byte{pfxWAL}, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
