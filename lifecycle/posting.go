package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Art. 16: a couple who printed the card themselves may have the official
// card (正式证件) posted. The holder asks through the tracking check (the
// card number and a spouse's ID number, Track); staff of the receiving
// organisation's jurisdiction see the open requests, print the card and
// record the posting (date, carrier, tracking number); the holder sees
// the state when tracking. The address is personal data: stored
// encrypted like every document (privacy.go).

// Errors of the postal requests.
var (
	// ErrPostingOpen: the card has a request not yet posted.
	ErrPostingOpen = errors.New("a request to post the official card is open already")
	// ErrPosting: a malformed address or posting record.
	ErrPosting = errors.New("malformed postal request or posting record")
)

// PostalAddress is where the holder wants the official card.
type PostalAddress struct {
	Recipient string `json:"recipient"`
	Phone     string `json:"phone"`
	Address   string `json:"address"`
}

var phoneRE = regexp.MustCompile(`^[0-9+\- ]{7,20}$`)

func (p *PostalAddress) check() error {
	n := utf8.RuneCountInString(p.Recipient)
	switch {
	case strings.TrimSpace(p.Recipient) == "" || n > 30:
		return fmt.Errorf("%w: recipient: 1 to 30 characters", ErrPosting)
	case !phoneRE.MatchString(p.Phone):
		return fmt.Errorf("%w: phone: 7 to 20 digits", ErrPosting)
	case strings.TrimSpace(p.Address) == "" || utf8.RuneCountInString(p.Address) > 200:
		return fmt.Errorf("%w: address: 1 to 200 characters", ErrPosting)
	}
	for _, f := range []struct{ n, v string }{{"recipient", p.Recipient}, {"address", p.Address}} {
		if err := card.CheckLine(f.n, f.v); err != nil {
			return err
		}
	}
	return nil
}

func postingSlot(cardID string, seq int) slot {
	return slot{ad: "cardseal/posting/" + cardID + "/" + strconv.Itoa(seq)}
}

// RequestPosting records the holder's request that the official card be
// posted to addr (Art. 16), checked as Track checks the holder; the card
// must be issued. The address is encrypted under the request's number,
// which is the next of the card's.
func (s *Service) RequestPosting(ctx context.Context, number, idNumber, remote string, addr PostalAddress) (*card.Posting, error) {
	if err := addr.check(); err != nil {
		return nil, err
	}
	ap, err := s.Track(ctx, number, idNumber, remote)
	if err != nil {
		return nil, err
	}
	c := ap.Card
	if c.Status != card.StatusIssued {
		return nil, fmt.Errorf("%w: card is %s", ErrNotIssued, c.Status)
	}
	prev, err := s.reg.Postings(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	p, err := s.privacy()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(addr)
	if err != nil {
		return nil, err
	}
	post := &card.Posting{CardID: c.ID, VillageCode: c.VillageCode, Address: p.seal(postingSlot(c.ID, len(prev)+1), b)}
	ev := audit.Event{Actor: "public", Action: audit.PostingRequest, CardID: c.ID, RemoteAddr: remote}
	ev.Detail, _ = json.Marshal(map[string]any{"number": c.Number, "seq": len(prev) + 1})
	if err := s.reg.AddPosting(ctx, post, ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrPostingOpen, err)
		}
		return nil, err
	}
	return post, nil
}

// OpenPosting is an open request as staff see it.
type OpenPosting struct {
	Posting card.Posting
	Card    card.Card
	Address PostalAddress
}

// OpenPostings lists the open requests the actor may act on (Allowed,
// PostCard: the jurisdiction's issued cards), oldest first, with their
// addresses.
func (s *Service) OpenPostings(ctx context.Context, a Actor) ([]OpenPosting, error) {
	ps, err := s.reg.OpenPostings(ctx, a.Org.Code)
	if err != nil {
		return nil, err
	}
	p, err := s.privacy()
	if err != nil {
		return nil, err
	}
	var out []OpenPosting
	for _, x := range ps {
		c, err := s.reg.GetCard(ctx, x.CardID)
		if err != nil {
			return nil, err
		}
		if Allowed(a, &c, PostCard) != nil {
			continue
		}
		plain, err := p.open(postingSlot(x.CardID, x.Seq), x.Address)
		if err != nil {
			return nil, err
		}
		var addr PostalAddress
		if err := json.Unmarshal(plain, &addr); err != nil {
			return nil, err
		}
		out = append(out, OpenPosting{Posting: x, Card: c, Address: addr})
	}
	return out, nil
}

var trackingRE = regexp.MustCompile(`^[A-Za-z0-9-]{4,40}$`)

// RecordPosting records that request seq of the card was printed
// (state printed) or posted (state posted, with the day, the carrier and
// the tracking number); staff of the card's jurisdiction (Allowed,
// PostCard), on an issued card.
func (s *Service) RecordPosting(ctx context.Context, a Actor, cardID string, seq int, state, postedOn, carrier, tracking string) error {
	c, err := s.card(ctx, a, cardID, PostCard)
	if err != nil {
		return err
	}
	p := card.Posting{CardID: c.ID, Seq: seq, State: state, UpdatedBy: a.Username}
	var from []string
	switch state {
	case card.PostingPrinted:
		from = []string{card.PostingRequested}
	case card.PostingPosted:
		from = []string{card.PostingRequested, card.PostingPrinted}
		d, err := time.ParseInLocation("2006-01-02", postedOn, China)
		today := s.Now().In(China).Format("2006-01-02")
		if err != nil || postedOn > today || d.Before(c.CreatedAt.In(China).AddDate(0, 0, -1)) {
			return fmt.Errorf("%w: posting date %q", ErrPosting, postedOn)
		}
		if strings.TrimSpace(carrier) == "" || utf8.RuneCountInString(carrier) > 30 || card.CheckLine("carrier", carrier) != nil || !trackingRE.MatchString(tracking) {
			return fmt.Errorf("%w: carrier (1 to 30 characters) and tracking number (4 to 40 letters, digits, -)", ErrPosting)
		}
		p.PostedOn, p.Carrier, p.Tracking = postedOn, carrier, tracking
	default:
		return fmt.Errorf("%w: state %q", ErrPosting, state)
	}
	ev := s.event(a, audit.PostingUpdate, c.ID, state, map[string]any{"seq": seq, "posted_on": postedOn, "carrier": carrier, "tracking": tracking})
	if err := s.reg.UpdatePosting(ctx, p, from, ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return fmt.Errorf("%w: %w", ErrState, err)
		}
		return err
	}
	return nil
}
