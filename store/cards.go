package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Cards, their PDF revisions and seal records, and the card numbers.

const cardCols = `id, number, type, status, village_code, county_code, applicant,
	qr_token, status_index, superseded_by, status_reason, status_note, seq,
	created_at, updated_at, created_by, version, couple_key, next_level, issuer_code, commitment,
	complete_at, cross_province, cross_province_reason`

func scanCard(row interface{ Scan(...any) error }) (card.Card, error) {
	var c card.Card
	var token, superseded sql.NullString
	err := row.Scan(&c.ID, &c.Number, &c.Type, &c.Status, &c.VillageCode, &c.CountyCode,
		&c.Applicant, &token, &c.StatusIndex, &superseded, &c.StatusReason,
		&c.StatusNote, &c.Seq, dbTime{&c.CreatedAt}, dbTime{&c.UpdatedAt}, &c.CreatedBy, &c.Version, &c.CoupleKey, &c.NextLevel, &c.IssuerCode, &c.Commitment,
		dbTime{&c.CompleteAt}, &c.CrossProvince, &c.CrossProvinceReason)
	c.QRToken, c.SupersededBy = token.String, superseded.String
	return c, err
}

func validCard(c *card.Card) error {
	switch {
	case !cardIDRE.MatchString(c.ID):
		return fmt.Errorf("id %q is not 16 lower-case hex digits", c.ID)
	case c.Number == "":
		return errors.New("no card number")
	case !c.Type.Valid():
		return fmt.Errorf("unknown card type %q", c.Type)
	case !c.Status.Valid():
		return fmt.Errorf("unknown status %q", c.Status)
	case len(c.VillageCode) != org.Village.CodeLen() || !digitsRE.MatchString(c.VillageCode):
		return fmt.Errorf("village code %q is not 12 digits", c.VillageCode)
	case c.CountyCode != org.CountyCode(c.VillageCode):
		return fmt.Errorf("county %q does not contain village %q", c.CountyCode, c.VillageCode)
	case len(c.Applicant) == 0:
		return errors.New("no applicant data")
	case c.StatusIndex < 0 || c.StatusIndex >= card.StatusListSize:
		return fmt.Errorf("status index %d outside [0, %d)", c.StatusIndex, card.StatusListSize)
	case c.CreatedBy == "":
		return errors.New("no creator")
	case c.IssuerCode != "" && (!digitsRE.MatchString(c.IssuerCode) || !strings.HasPrefix(c.VillageCode, c.IssuerCode) || len(c.IssuerCode) >= len(c.VillageCode)):
		return fmt.Errorf("issuer %q is not a township or county holding village %q", c.IssuerCode, c.VillageCode)
	case c.CoupleKey != "" && !coupleKeyRE.MatchString(c.CoupleKey):
		return errors.New("couple key is not 1 to 64 lower-case hex digits")
	}
	return validTerms(c.Terms)
}

func (s *DB) CreateCard(ctx context.Context, c *card.Card, pdf0 []byte, ev audit.Event) error {
	if c.Status == "" {
		c.Status = card.StatusDraft
	}
	if err := validCard(c); err != nil {
		return fmt.Errorf("create card: %w: %w", ErrInvalid, err)
	}
	if len(pdf0) == 0 {
		return fmt.Errorf("create card %s: %w: empty PDF", c.ID, ErrInvalid)
	}
	t := now()
	ev.CardID = c.ID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if c.CoupleKey != "" {
			var held int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cards WHERE couple_key = $1 AND type = $2
				AND status = $3 AND id <> $4`, c.CoupleKey, string(c.Type), string(card.StatusIssued), c.Replaces).Scan(&held)
			if err != nil {
				return s.wrap(err)
			}
			if held > 0 {
				return fmt.Errorf("%w: %d issued %s card(s)", card.ErrHeld, held, c.Type)
			}
		}
		// token_salt belongs to version-1 QR tokens, which carried holder
		// digests; no card records one any more.
		_, err := tx.ExecContext(ctx, `INSERT INTO cards (`+cardCols+`, token_salt)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13, $14, 1, $15, $16, $17, $18, $20, $21, $22, $19)`,
			c.ID, c.Number, string(c.Type), string(c.Status), c.VillageCode, c.CountyCode,
			c.Applicant, nullString(c.QRToken), c.StatusIndex, nullString(c.SupersededBy),
			c.StatusReason, c.StatusNote, s.d.timeArg(t), c.CreatedBy, c.CoupleKey, string(c.NextLevel), c.IssuerCode, c.Commitment, []byte{},
			s.d.timeArg(c.CompleteAt), c.CrossProvince, c.CrossProvinceReason)
		if err != nil {
			return s.wrap(err)
		}
		if err := s.insertPDF(ctx, tx, c.ID, 0, pdf0, t); err != nil {
			return err
		}
		if err := s.insertTerms(ctx, tx, c.ID, c.Terms); err != nil {
			return err
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("create card %s: %w", c.ID, err)
	}
	c.Seq, c.Version, c.CreatedAt, c.UpdatedAt = 0, 1, t, t
	return nil
}

// insertPDF stores a PDF revision as given (the lifecycle encrypts it);
// its digest column is the SM3 of the stored bytes, a checksum of the row.
// The digest of the plaintext a seal produced is the seal record's.
func (s *DB) insertPDF(ctx context.Context, tx *sql.Tx, cardID string, seq int, pdf []byte, t time.Time) error {
	digest := sm3.Sum(pdf)
	_, err := tx.ExecContext(ctx,
		`INSERT INTO card_pdfs (card_id, seq, pdf, digest, created_at) VALUES ($1, $2, $3, $4, $5)`,
		cardID, seq, pdf, digest[:], s.d.timeArg(t))
	if err != nil {
		return fmt.Errorf("insert PDF revision %d: %w", seq, s.wrap(err))
	}
	return nil
}

func (s *DB) getCard(ctx context.Context, what, where string, arg any) (card.Card, error) {
	st, err := s.cardStmt(ctx, where)
	if err != nil {
		return card.Card{}, fmt.Errorf("get card %s: %w", what, s.wrap(err))
	}
	c, err := scanCard(st.QueryRowContext(ctx, arg))
	if err != nil {
		return card.Card{}, fmt.Errorf("get card %s: %w", what, s.wrap(err))
	}
	return c, nil
}

// cardQuery looks a card up by one column.
func cardQuery(where string) string {
	return `SELECT ` + cardCols + ` FROM cards WHERE ` + where + ` = $1`
}

// cardStmt returns the prepared lookup of a card by one column (id,
// number or qr_token: fixed names, never user input).
func (s *DB) cardStmt(ctx context.Context, where string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.cardStmts[where]; ok {
		return st, nil
	}
	st, err := s.r.PrepareContext(ctx, cardQuery(where))
	if err != nil {
		return nil, err
	}
	if s.cardStmts == nil {
		s.cardStmts = map[string]*sql.Stmt{}
	}
	s.cardStmts[where] = st
	return st, nil
}

func (s *DB) GetCard(ctx context.Context, id string) (card.Card, error) {
	return s.getCard(ctx, id, "id", id)
}

func (s *DB) GetCardByNumber(ctx context.Context, number string) (card.Card, error) {
	return s.getCard(ctx, "number "+number, "number", number)
}

func (s *DB) GetCardByToken(ctx context.Context, token string) (card.Card, error) {
	if token == "" {
		return card.Card{}, fmt.Errorf("get card by token: %w", card.ErrNotFound)
	}
	return s.getCard(ctx, "by token", "qr_token", token)
}

const currentPDFQuery = `SELECT p.seq, p.pdf FROM cards c JOIN card_pdfs p ON p.card_id = c.id AND p.seq = c.seq WHERE c.id = $1`

func (s *DB) CurrentPDF(ctx context.Context, cardID string) (int, []byte, error) {
	var seq int
	var pdf []byte
	err := s.r.QueryRowContext(ctx, currentPDFQuery, cardID).Scan(&seq, &pdf)
	if err != nil {
		return 0, nil, fmt.Errorf("current PDF of card %s: %w", cardID, s.wrap(err))
	}
	return seq, pdf, nil
}

func (s *DB) PDF(ctx context.Context, cardID string, seq int) ([]byte, error) {
	var pdf []byte
	err := s.r.QueryRowContext(ctx, `SELECT pdf FROM card_pdfs WHERE card_id = $1 AND seq = $2`, cardID, seq).Scan(&pdf)
	if err != nil {
		return nil, fmt.Errorf("PDF revision %d of card %s: %w", seq, cardID, s.wrap(err))
	}
	return pdf, nil
}

func (s *DB) ListCards(ctx context.Context, f card.Filter) ([]card.Card, error) {
	q, args, err := s.listQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list cards: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []card.Card
	for rows.Next() {
		c, err := scanCard(rows)
		if err != nil {
			return nil, fmt.Errorf("list cards: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cards: %w", s.wrap(err))
	}
	return out, nil
}

// cursorQuery reads the creation time of a page's cursor.
const cursorQuery = `SELECT created_at FROM cards WHERE id = $1`

// listQuery is ListCards' query and its arguments. Each filter is a
// condition one of the cards indexes serves in the listing's order
// (created_at, id), so a page reads about as many index entries as it
// returns however large the registry (docs/performance.md, "Scale";
// TestQueryPlans checks the plans). A cursor's creation time is read
// here.
func (s *DB) listQuery(ctx context.Context, f card.Filter) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	// Statuses are written into the query as literals, not passed as
	// arguments: they come from a closed set (Valid), and only a literal
	// lets PostgreSQL use the partial index cards_awaiting (WHERE status
	// = 'draft') in the generic plan it switches a prepared statement to
	// after a few executions; with an argument, a queue page sorted all
	// of a village's drafts of every level.
	if len(f.Statuses) > 0 {
		var in []string
		for _, st := range f.Statuses {
			if !st.Valid() {
				return "", nil, fmt.Errorf("list cards: %w: unknown status %q", ErrInvalid, st)
			}
			in = append(in, "'"+string(st)+"'")
		}
		where = append(where, "c.status IN ("+strings.Join(in, ", ")+")")
	}
	switch {
	case f.CodePrefix == "":
	case !digitsRE.MatchString(f.CodePrefix):
		return "", nil, fmt.Errorf("list cards: %w: code prefix %q is not digits", ErrInvalid, f.CodePrefix)
	case len(f.CodePrefix) == org.Village.CodeLen():
		// A village's own cards: an equality, so that the index on
		// (…, village_code, created_at, id) yields them in the
		// listing's order and a page stops after its last card instead
		// of sorting the village's whole backlog first.
		where = append(where, "c.village_code = "+arg(f.CodePrefix))
	default:
		// A range rather than LIKE, so both backends walk an index: ':'
		// sorts right after '9'.
		where = append(where, "c.village_code >= "+arg(f.CodePrefix), "c.village_code < "+arg(f.CodePrefix+":"))
	}
	if f.CountyCode != "" {
		if len(f.CountyCode) != org.County.CodeLen() || !digitsRE.MatchString(f.CountyCode) {
			return "", nil, fmt.Errorf("list cards: %w: county code %q is not 6 digits", ErrInvalid, f.CountyCode)
		}
		where = append(where, "c.county_code = "+arg(f.CountyCode))
	}
	if f.CoupleKey != "" {
		if !coupleKeyRE.MatchString(f.CoupleKey) {
			return "", nil, fmt.Errorf("list cards: %w: couple key is not 1 to 64 lower-case hex digits", ErrInvalid)
		}
		where = append(where, "c.couple_key = "+arg(f.CoupleKey))
	}
	if f.AfterID != "" {
		// The cursor's creation time never changes, so reading it apart
		// from the page cannot mix two states of the card.
		var after time.Time
		if err := s.r.QueryRowContext(ctx, cursorQuery, f.AfterID).
			Scan(dbTime{&after}); err != nil {
			return "", nil, fmt.Errorf("list cards after %q: %w", f.AfterID, s.wrap(err))
		}
		where = append(where, "(c.created_at, c.id) > ("+arg(s.d.timeArg(after))+", "+arg(f.AfterID)+")")
	}
	if f.UnsealedBy != "" {
		if !f.UnsealedBy.Valid() {
			return "", nil, fmt.Errorf("list cards: %w: level %q", ErrInvalid, f.UnsealedBy)
		}
		var levels []string
		for _, l := range org.Levels[:slices.Index(org.Levels, f.UnsealedBy)+1] {
			levels = append(levels, arg(string(l)))
		}
		where = append(where, "c.status = '"+string(card.StatusDraft)+"'", "c.next_level IN ("+strings.Join(levels, ", ")+")")
	}
	more, err := finding(f, arg)
	if err != nil {
		return "", nil, err
	}
	where = append(where, more...)
	if f.Awaiting != "" {
		if !f.Awaiting.Valid() {
			return "", nil, fmt.Errorf("list cards: %w: level %q", ErrInvalid, f.Awaiting)
		}
		where = append(where, "c.status = '"+string(card.StatusDraft)+"'", "c.next_level = "+arg(string(f.Awaiting)))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT ` + cardCols + ` FROM cards c`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY c.created_at, c.id LIMIT " + arg(limit)
	return q, args, nil
}

// statusListed is the condition of the partial index cards_status_list
// (migration 0002), word for word: SQLite uses a partial index only for a
// query that repeats its WHERE term.
const statusListed = `status IN ('voided', 'revoked', 'superseded')`

// statusEntriesQuery reads the status list off the index alone.
const statusEntriesQuery = `SELECT status_index, status FROM cards WHERE ` + statusListed + ` ORDER BY status_index`

func (s *DB) StatusEntries(ctx context.Context) ([]card.StatusEntry, error) {
	rows, err := s.r.QueryContext(ctx, statusEntriesQuery)
	if err != nil {
		return nil, fmt.Errorf("status entries: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []card.StatusEntry
	for rows.Next() {
		var e card.StatusEntry
		if err := rows.Scan(&e.Index, &e.Status); err != nil {
			return nil, fmt.Errorf("status entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status entries: %w", s.wrap(err))
	}
	return out, nil
}

// lockCard reads the card's status and seq inside a write transaction,
// locking the row until the transaction ends.
func (s *DB) lockCard(ctx context.Context, tx *sql.Tx, cardID string) (card.Status, int, error) {
	var st card.Status
	var seq int
	err := tx.QueryRowContext(ctx, `SELECT status, seq FROM cards WHERE id = $1`+s.d.forUpdate, cardID).Scan(&st, &seq)
	if err != nil {
		return "", 0, fmt.Errorf("lock card: %w", s.wrap(err))
	}
	return st, seq, nil
}

func (s *DB) AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal card.Seal, newStatus card.Status, next org.Level, bar *card.CoupleBar, ev audit.Event) error {
	if newStatus != card.StatusDraft && newStatus != card.StatusIssued {
		return fmt.Errorf("seal card %s: %w: a seal leaves the card draft or issued, not %q", cardID, ErrInvalid, newStatus)
	}
	if !seal.Level.Valid() || seal.OrgCode == "" || seal.ByUser == "" {
		return fmt.Errorf("seal card %s: %w: level, organisation and user are required", cardID, ErrInvalid)
	}
	if len(pdf) == 0 {
		return fmt.Errorf("seal card %s: %w: empty PDF", cardID, ErrInvalid)
	}
	// The caller's digest of the PDF it sealed: the store keeps what it
	// is given (an encrypted revision, lifecycle/privacy.go) and cannot
	// compute the digest of the plaintext the verifier checks.
	if len(seal.PDFDigest) != sm3.Size {
		return fmt.Errorf("seal card %s: %w: the seal record needs the SM3 digest of the sealed PDF", cardID, ErrInvalid)
	}
	seal.CardID, seal.Seq = cardID, expectSeq+1
	t := now()
	if seal.SignedAt.IsZero() {
		seal.SignedAt = t
	}
	if bar != nil && (!bar.Type.Valid() || len(bar.Statuses) == 0) {
		return fmt.Errorf("seal card %s: %w: a bar names a card type and statuses", cardID, ErrInvalid)
	}
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if bar != nil {
			if err := s.checkBar(ctx, tx, cardID, bar); err != nil {
				return err
			}
		}
		st, seq, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if seq != expectSeq {
			return fmt.Errorf("%w: card is at revision %d, not %d", card.ErrConflict, seq, expectSeq)
		}
		if st != card.StatusDraft {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM seals WHERE card_id = $1 AND level = $2`,
			cardID, string(seal.Level)).Scan(&n); err != nil {
			return s.wrap(err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s level already sealed", card.ErrConflict, seal.Level)
		}
		if err := s.insertPDF(ctx, tx, cardID, seal.Seq, pdf, t); err != nil {
			return asConflict(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO seals
			(card_id, seq, level, org_code, cert_serial, signed_at, pdf_digest, by_user, approved_at, approved_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			cardID, seal.Seq, string(seal.Level), seal.OrgCode, seal.CertSerial,
			s.d.timeArg(normTime(seal.SignedAt)), seal.PDFDigest, seal.ByUser,
			s.d.timeArg(normTime(seal.ApprovedAt)), seal.ApprovedBy)
		if err != nil {
			return fmt.Errorf("insert seal: %w", asConflict(s.wrap(err)))
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE cards SET seq = $1, status = $2, next_level = $3, updated_at = $4, version = version + 1 WHERE id = $5 AND seq = $6`,
			seal.Seq, string(newStatus), string(next), s.d.timeArg(t), cardID, expectSeq)
		if err != nil {
			return s.wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: card moved during the seal", card.ErrConflict)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("seal card %s at %s: %w", cardID, seal.Level, err)
	}
	return nil
}

// checkBar returns card.ErrBarred if another card of the couple of
// cardID matches bar. It locks every card of the couple, the card itself
// included, in the order of their IDs: a SetStatus of one of them waits
// for this transaction or this one for it, and two seals of one couple
// at once lock in the same order (no deadlock). On SQLite the write
// transaction is exclusive already.
func (s *DB) checkBar(ctx context.Context, tx *sql.Tx, cardID string, bar *card.CoupleBar) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, type, status FROM cards
		WHERE couple_key <> '' AND couple_key = (SELECT couple_key FROM cards WHERE id = $1)
		ORDER BY id`+s.d.forUpdate, cardID)
	if err != nil {
		return fmt.Errorf("couple of card: %w", s.wrap(err))
	}
	defer rows.Close()
	by := ""
	for rows.Next() {
		var id string
		var typ card.Type
		var st card.Status
		if err := rows.Scan(&id, &typ, &st); err != nil {
			return fmt.Errorf("couple of card: %w", err)
		}
		if id != cardID && typ == bar.Type && slices.Contains(bar.Statuses, st) && by == "" {
			by = id
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("couple of card: %w", s.wrap(err))
	}
	if by != "" {
		return fmt.Errorf("%w: card %s", card.ErrBarred, by)
	}
	return nil
}

// asConflict turns a unique violation during sealing into ErrConflict:
// another seal won the race.
func asConflict(err error) error {
	if errors.Is(err, card.ErrDuplicate) {
		return fmt.Errorf("%w: %w", card.ErrConflict, err)
	}
	return err
}

func (s *DB) SetStatus(ctx context.Context, cardID string, from []card.Status, to card.Status, reason, note, supersededBy string, ev audit.Event) error {
	if !to.Valid() || len(from) == 0 {
		return fmt.Errorf("set status of card %s: %w: target %q, %d allowed sources", cardID, ErrInvalid, to, len(from))
	}
	if (to == card.StatusSuperseded) != (supersededBy != "") {
		return fmt.Errorf("set status of card %s: %w: superseded, and only superseded, names the new card", cardID, ErrInvalid)
	}
	if supersededBy == cardID {
		return fmt.Errorf("set status of card %s: %w: a card cannot supersede itself", cardID, ErrInvalid)
	}
	for _, st := range from {
		if !st.Valid() {
			return fmt.Errorf("set status of card %s: %w: unknown status %q", cardID, ErrInvalid, st)
		}
	}
	t := now()
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		allowed := false
		for _, f := range from {
			allowed = allowed || f == st
		}
		if !allowed {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		_, err = tx.ExecContext(ctx, `UPDATE cards SET status = $1, status_reason = $2, status_note = $3,
			superseded_by = $4, next_level = '', updated_at = $5, version = version + 1 WHERE id = $6`,
			string(to), reason, note, nullString(supersededBy), s.d.timeArg(t), cardID)
		if err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("set status of card %s to %s: %w", cardID, to, err)
	}
	return nil
}

func (s *DB) Seals(ctx context.Context, cardID string) ([]card.Seal, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT card_id, seq, level, org_code, cert_serial, signed_at, pdf_digest, by_user,
		approved_at, approved_by FROM seals WHERE card_id = $1 ORDER BY seq`, cardID)
	if err != nil {
		return nil, fmt.Errorf("seals of card %s: %w", cardID, s.wrap(err))
	}
	defer rows.Close()
	var out []card.Seal
	for rows.Next() {
		var se card.Seal
		if err := rows.Scan(&se.CardID, &se.Seq, &se.Level, &se.OrgCode, &se.CertSerial,
			dbTime{&se.SignedAt}, &se.PDFDigest, &se.ByUser, dbTime{&se.ApprovedAt}, &se.ApprovedBy); err != nil {
			return nil, fmt.Errorf("seals of card %s: %w", cardID, err)
		}
		out = append(out, se)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seals of card %s: %w", cardID, s.wrap(err))
	}
	return out, nil
}

func (s *DB) NextCardNumber(ctx context.Context, countyCode string, year int) (string, error) {
	if len(countyCode) != org.County.CodeLen() || !digitsRE.MatchString(countyCode) {
		return "", fmt.Errorf("next card number: %w: county code %q is not 6 digits", ErrInvalid, countyCode)
	}
	if year < 2000 || year > 9999 {
		return "", fmt.Errorf("next card number: %w: year %d", ErrInvalid, year)
	}
	var n int
	// One statement: the upsert locks the counter row until it commits,
	// so concurrent callers get consecutive numbers.
	err := s.w.QueryRowContext(ctx, `INSERT INTO card_counters (county_code, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (county_code, year) DO UPDATE SET last = card_counters.last + 1
		RETURNING last`, countyCode, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("next card number for %s/%d: %w", countyCode, year, s.wrap(err))
	}
	if n > 999999 {
		return "", fmt.Errorf("next card number for %s/%d: sequence exhausted", countyCode, year)
	}
	return fmt.Sprintf("%s%04d%06d", countyCode, year, n), nil
}
