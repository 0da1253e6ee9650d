package verifier

import (
	"encoding"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// prefixHasher computes each seal's SM3 over data[0:a] ‖ data[b:end] in
// one pass over the file. Successive seals' first ranges are prefixes of
// one another (seal n+1's first range contains all of seal n), so the SM3
// state over data[0:a] is carried forward and cloned for each seal,
// instead of hashing the growing prefix again for every seal: three seals
// cost about one file's worth of hashing, not three.
type prefixHasher struct {
	data []byte
	h    hash.Hash // SM3 over data[0:pos]
	pos  int64
}

func (p *prefixHasher) digest(a, b, end int64) []byte {
	if a < p.pos {
		// Not in file order (a hostile or unusual file): hash directly.
		h := sm3.New()
		h.Write(p.data[:a])
		h.Write(p.data[b:end])
		return h.Sum(nil)
	}
	p.h.Write(p.data[p.pos:a])
	p.pos = a
	state, err := p.h.(encoding.BinaryMarshaler).MarshalBinary()
	c := sm3.New()
	if err == nil {
		err = c.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
	}
	if err != nil {
		// Cannot happen with gmsm's SM3; stay correct regardless.
		c = sm3.New()
		c.Write(p.data[:a])
	}
	c.Write(p.data[b:end])
	return c.Sum(nil)
}
