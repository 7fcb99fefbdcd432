package store

import "encoding/binary"

// Key prefixes; FORMAT.md describes each key space.
const (
	pfxSeries   = 's' // s<series key>            -> sid(8) kind(1)
	pfxSeriesID = 'S' // S<sid>                   -> kind(1) series key
	pfxWAL      = 'w' // w<seq>                   -> WAL record
	pfxBlock    = 'b' // b<sid><window><seq>      -> chunk
	pfxRollup   = 'r' // r<tier><sid><bucket>     -> rollup aggregate
	pfxDirty    = 'd' // d<tier><sid><bucket>     -> empty: rollup must be recomputed
	pfxMeta     = 'm' // m<key>                   -> Meta() values
)

var keySeq = []byte("xseq") // -> last allocated sequence number (8 BE)

// tiers are the rollup widths; the index is the tier byte in keys.
var tiers = [2]int64{Tier1m, Tier1h}

// putTime encodes a signed time so that byte order is time order.
func putTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

func getTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func walKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfxWAL}, seq)
}

func blockKey(sid uint64, window int64, seq uint64) []byte {
	b := make([]byte, 0, 25)
	b = append(b, pfxBlock)
	b = binary.BigEndian.AppendUint64(b, sid)
	b = putTime(b, window)
	return binary.BigEndian.AppendUint64(b, seq)
}

func parseBlockKey(k []byte) (sid uint64, window int64, seq uint64, ok bool) {
	if len(k) != 25 || k[0] != pfxBlock {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), getTime(k[9:]), binary.BigEndian.Uint64(k[17:]), true
}

// bucketKey builds rollup (pfxRollup) and dirty-marker (pfxDirty) keys.
func bucketKey(pfx byte, tier int, sid uint64, bucket int64) []byte {
	b := make([]byte, 0, 18)
	b = append(b, pfx, byte(tier))
	b = binary.BigEndian.AppendUint64(b, sid)
	return putTime(b, bucket)
}

func parseBucketKey(k []byte) (tier int, sid uint64, bucket int64, ok bool) {
	if len(k) != 18 || int(k[1]) >= len(tiers) {
		return 0, 0, 0, false
	}
	return int(k[1]), binary.BigEndian.Uint64(k[2:]), getTime(k[10:]), true
}

func seriesIDKey(sid uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfxSeriesID}, sid)
}

// floorTo rounds t down to a multiple of w (also for negative t).
func floorTo(t, w int64) int64 {
	r := t % w
	if r < 0 {
		r += w
	}
	return t - r
}

// ceilTo rounds t up to a multiple of w.
func ceilTo(t, w int64) int64 {
	f := floorTo(t, w)
	if f == t {
		return t
	}
	return f + w
}
