package cloud

import (
	"encoding/binary"
	"errors"
	"slices"
)

// maxAbove bounds the sequences remembered above the contiguous mark. When
// more arrive the lowest are forgotten: a retry of a forgotten batch is
// stored again, which the store absorbs (same series and timestamp keep the
// last value, records are keyed by sequence), so forgetting costs work, never
// correctness.
const maxAbove = 4096

// ackSet is the acknowledged batch sequences of one edge: every sequence in
// 1..contig plus those in above. Sequences start at 1.
type ackSet struct {
	contig uint64
	above  []uint64 // sorted, all > contig+1
}

func (a *ackSet) has(seq uint64) bool {
	if seq <= a.contig {
		return true
	}
	_, ok := slices.BinarySearch(a.above, seq)
	return ok
}

// add records seq; it is a no-op for a sequence already in the set.
func (a *ackSet) add(seq uint64) {
	if a.has(seq) {
		return
	}
	if seq == a.contig+1 {
		a.contig = seq
		i := 0
		for i < len(a.above) && a.above[i] == a.contig+1 {
			a.contig++
			i++
		}
		a.above = a.above[i:]
		return
	}
	i, _ := slices.BinarySearch(a.above, seq)
	a.above = slices.Insert(a.above, i, seq)
	if len(a.above) > maxAbove {
		a.above = slices.Clone(a.above[len(a.above)-maxAbove:])
	}
}

// encode: uvarint(contig) uvarint(len(above)) uvarint(delta)* where each
// delta is from the previous value (the first from contig).
func (a *ackSet) encode() []byte {
	b := binary.AppendUvarint(nil, a.contig)
	b = binary.AppendUvarint(b, uint64(len(a.above)))
	prev := a.contig
	for _, s := range a.above {
		b = binary.AppendUvarint(b, s-prev)
		prev = s
	}
	return b
}

var errBadAckSet = errors.New("corrupt acked set")

func decodeAckSet(b []byte) (*ackSet, error) {
	a := &ackSet{}
	var n uint64
	var k int
	if a.contig, k = binary.Uvarint(b); k <= 0 {
		return nil, errBadAckSet
	}
	b = b[k:]
	if n, k = binary.Uvarint(b); k <= 0 || n > maxAbove {
		return nil, errBadAckSet
	}
	b = b[k:]
	prev := a.contig
	for range n {
		d, k := binary.Uvarint(b)
		if k <= 0 || d < 2 && prev == a.contig || d == 0 {
			return nil, errBadAckSet
		}
		b = b[k:]
		prev += d
		a.above = append(a.above, prev)
	}
	if len(b) != 0 {
		return nil, errBadAckSet
	}
	return a, nil
}
