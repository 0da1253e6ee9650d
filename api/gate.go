package api

import (
	"fmt"
)

// gate bounds the uploaded PDFs verified at once (issue 12, H1): a
// verification holds one of n slots while the verifier hashes and checks
// seals, and an upload that finds every slot taken is refused at once,
// 503 with Retry-After, rather than queued behind work whose end it
// cannot see. The verifier's own bounds keep each slot short; the gate
// keeps n of them from taking every core.
type gate struct {
	slots chan struct{}
}

// busyRetryAfter is the Retry-After of a refused upload, in seconds:
// a verification of the largest upload takes well under one.
const busyRetryAfter = 2

// kindBusy is the answer to an upload that finds no free slot.
var kindBusy = kind{503, "busy", "Too many verifications at once", "同时核验的文件过多，请稍后再试。"}

func newGate(n int) *gate {
	return &gate{slots: make(chan struct{}, max(n, 1))}
}

// enter takes a slot, or answers busy; release gives the slot back.
func (g *gate) enter() (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
	default:
		return nil, &apiError{kind: kindBusy, cause: fmt.Errorf("all %d verification slots taken", cap(g.slots)), retryAfter: busyRetryAfter}
	}
	return func() { <-g.slots }, nil
}
