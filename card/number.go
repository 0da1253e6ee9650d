package card

import "strings"

// NormalizeNumber reads a card number as a person types it from a paper
// card: full-width digits (a Chinese input method) become ASCII, the
// letters that look like digits become those digits (O→0, I and l→1,
// B→8; a card number is 16 digits and has no letters), and spaces, dashes
// and dots between the digit groups are dropped. Input that is not a
// 16-digit number after that is returned trimmed and otherwise unchanged,
// so it is looked up as typed and not found.
func NormalizeNumber(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xFF10 && r <= 0xFF19: // full-width digits
			r = r - 0xFF10 + '0'
		case r == 0xFF2F || r == 0xFF4F: // full-width O, o
			r = 'O'
		}
		switch r {
		case 'O', 'o':
			r = '0'
		case 'I', 'l', '|':
			r = '1'
		case 'B':
			r = '8'
		}
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ', r == '-', r == '.', r == 0x3000, r == 0xFF0D, r == '\t', r == 0x2014, r == 0x2013:
		default:
			return strings.TrimSpace(s)
		}
	}
	if b.Len() != 16 {
		return strings.TrimSpace(s)
	}
	return b.String()
}
