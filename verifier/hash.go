package verifier

import (
	"context"
	"encoding"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// prefixHasher computes each seal's SM3 over data[0:a] ‖ data[b:end] in
// one pass over the file. Successive seals' first ranges are prefixes of
// one another (seal n+1's first range contains all of seal n), so the SM3
// state over data[0:a] is carried forward and cloned for each seal,
// instead of hashing the growing prefix again for every seal: three seals
// cost about one file's worth of hashing, not three. The verifier asks in
// revision order, one seal per revision, so the second ranges are disjoint
// too and the total stays under twice the file.
//
// It hashes in chunks of hashChunk and looks at the context between them,
// and counts every byte it hashes.
type prefixHasher struct {
	data []byte
	h    hash.Hash // SM3 over data[0:pos]
	pos  int64
	// hashed counts the bytes fed to SM3; onChunk, when set (tests),
	// is called after every chunk with the running count.
	hashed  *int64
	onChunk func(hashed int64)
}

func newPrefixHasher(data []byte, hashed *int64, onChunk func(int64)) prefixHasher {
	return prefixHasher{data: data, h: sm3.New(), hashed: hashed, onChunk: onChunk}
}

// write feeds data[from:to] to h chunk by chunk.
func (p *prefixHasher) write(ctx context.Context, h hash.Hash, from, to int64) error {
	for from < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(to-from, hashChunk)
		h.Write(p.data[from : from+n])
		from += n
		*p.hashed += n
		if p.onChunk != nil {
			p.onChunk(*p.hashed)
		}
	}
	return ctx.Err()
}

func (p *prefixHasher) digest(ctx context.Context, a, b, end int64) ([]byte, error) {
	if a < p.pos {
		// Not in file order (cannot happen for seals taken in revision
		// order; stay correct regardless): hash directly.
		h := sm3.New()
		if err := p.write(ctx, h, 0, a); err != nil {
			return nil, err
		}
		if err := p.write(ctx, h, b, end); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	if err := p.write(ctx, p.h, p.pos, a); err != nil {
		return nil, err
	}
	p.pos = a
	state, err := p.h.(encoding.BinaryMarshaler).MarshalBinary()
	c := sm3.New()
	if err == nil {
		err = c.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
	}
	if err != nil {
		// Cannot happen with gmsm's SM3; stay correct regardless.
		c = sm3.New()
		if err := p.write(ctx, c, 0, a); err != nil {
			return nil, err
		}
	}
	if err := p.write(ctx, c, b, end); err != nil {
		return nil, err
	}
	return c.Sum(nil), nil
}
