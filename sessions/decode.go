package sessions

import "unicode/utf8"

// activeExpiry checks that v is a well-formed session value of user userID
// and returns its expiry in Unix milliseconds. It is IsActive's decoder:
// it compares in place and allocates nothing, where encoding/json would
// allocate the decoder state, the uid string and the meta map on every
// call.
//
// It accepts exactly the value's schema (see value.go): an object with a
// string uid equal to userID, a non-empty string fam, integers iat and exp
// (Unix ms within ±(2^53-1), no fraction or exponent), and optionally meta,
// null or an object of at most MaxMetaEntries strings under distinct keys
// of the MetaKey charset; each member once, in any order, nothing else.
// Strings hold no raw control byte, only JSON's escapes, valid UTF-8 and
// surrogates in pairs: encoding/json would read a bad byte or a lone
// surrogate as U+FFFD, but no encoder of a session writes either, so
// this refuses both. Anything else — truncated, not JSON, a member
// unknown, mistyped or given twice — is errCorrupt; another user's value
// is errOtherUser.
//
// The Lua scripts read values with scripts/lib.lua's decode, the same
// grammar written again in Lua rule for rule (cjson is far more lenient),
// so that IsActive and Rotate never disagree on whether a session exists;
// TestLuaDecodeAgreesWithGo runs both on the same values. Strictness is
// what keeps the two in step: a later version that adds a member must
// roll out its readers before its writers.
func activeExpiry(v, userID string) (int64, error) {
	p := scanner{s: v}
	p.space()
	if !p.eat('{') {
		return 0, errCorrupt
	}
	const (
		seenUID = 1 << iota
		seenFam
		seenIat
		seenExp
		seenMeta
		required = seenUID | seenFam | seenIat | seenExp
	)
	var seen int
	var exp int64
	owner := false
	for {
		p.space()
		field, ok := p.member()
		if !ok || seen&field != 0 {
			return 0, errCorrupt
		}
		seen |= field
		p.space()
		if !p.eat(':') {
			return 0, errCorrupt
		}
		p.space()
		switch field {
		case seenUID:
			owner, ok = p.str(userID)
		case seenFam:
			var empty bool
			empty, ok = p.str("")
			ok = ok && !empty
		case seenIat:
			_, ok = p.millis()
		case seenExp:
			exp, ok = p.millis()
		case seenMeta:
			ok = p.meta()
		}
		if !ok {
			return 0, errCorrupt
		}
		p.space()
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return 0, errCorrupt
		}
	}
	p.space()
	if p.i != len(p.s) || seen&required != required {
		return 0, errCorrupt
	}
	if !owner {
		return 0, errOtherUser
	}
	return exp, nil
}

// scanner reads JSON from s at i.
type scanner struct {
	s string
	i int
}

func (p *scanner) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// memberNames are the value's members, in the order of the seen* bits.
var memberNames = [...]string{"uid", "fam", "iat", "exp", "meta"}

// member reads an object member's name and returns which known member it
// is (a seen* bit); any other name is not ok.
func (p *scanner) member() (int, bool) {
	start := p.i
	for bit, name := range memberNames {
		p.i = start
		equal, ok := p.str(name)
		if !ok {
			return 0, false
		}
		if equal {
			return 1 << bit, true
		}
	}
	return 0, false
}

// str reads a string and reports whether its decoded text equals want,
// decoding escapes on the fly instead of into a buffer.
func (p *scanner) str(want string) (equal, ok bool) {
	if !p.eat('"') {
		return false, false
	}
	j := 0 // bytes of want matched so far
	equal = true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return equal && j == len(want), true
		case c < 0x20:
			return false, false
		case c < utf8.RuneSelf && c != '\\':
			p.i++
			equal, j = step(equal, j, want, c)
			continue
		}
		r, ok := p.char()
		if !ok {
			return false, false
		}
		var buf [utf8.UTFMax]byte
		for _, b := range buf[:utf8.EncodeRune(buf[:], r)] {
			equal, j = step(equal, j, want, b)
		}
	}
	return false, false
}

// step advances the comparison of a string with want by its next byte c.
func step(equal bool, j int, want string, c byte) (bool, int) {
	if equal && j < len(want) && want[j] == c {
		return true, j + 1
	}
	return false, j
}

// char reads one character of a string that is not plain ASCII: an escape
// sequence, or a UTF-8 sequence. A byte that is not UTF-8 is not ok.
func (p *scanner) char() (rune, bool) {
	if p.s[p.i] == '\\' {
		return p.escape()
	}
	r, size := utf8.DecodeRuneInString(p.s[p.i:])
	p.i += size
	return r, r != utf8.RuneError || size > 1
}

// escape reads one escape sequence (at a backslash). A surrogate must be
// the high half of a pair whose low half follows at once.
func (p *scanner) escape() (rune, bool) {
	if p.i+1 >= len(p.s) {
		return 0, false
	}
	c := p.s[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, false
		}
		if r < 0xD800 || r > 0xDFFF {
			return r, true
		}
		if r <= 0xDBFF && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
			p.i += 2
			lo, ok := p.hex4()
			if ok && lo >= 0xDC00 && lo <= 0xDFFF {
				return (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000, true
			}
		}
		return 0, false
	}
	return 0, false
}

func (p *scanner) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for k := p.i; k < p.i+4; k++ {
		switch c := p.s[k]; {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// millis reads a time in Unix milliseconds: a JSON integer (no fraction,
// no exponent, no leading zero) within ±maxUnixMilli, the range a Lua
// number, the scripts', holds exactly.
func (p *scanner) millis() (int64, bool) {
	neg := p.eat('-')
	start := p.i
	var n int64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int64(p.s[p.i]-'0')
		if n > maxUnixMilli {
			return 0, false
		}
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > 1 && p.s[start] == '0' {
		return 0, false
	}
	if p.i < len(p.s) && (p.s[p.i] == '.' || p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// meta reads null or an object of at most MaxMetaEntries strings under
// distinct keys of the MetaKey charset (which needs no escapes, so keys
// compare as written).
func (p *scanner) meta() bool {
	if len(p.s)-p.i >= 4 && p.s[p.i:p.i+4] == "null" {
		p.i += 4
		return true
	}
	if !p.eat('{') {
		return false
	}
	p.space()
	if p.eat('}') {
		return true
	}
	var keys [MaxMetaEntries]string
	for n := 0; ; n++ {
		p.space()
		key, ok := p.metaKey()
		if !ok || n == len(keys) {
			return false
		}
		for _, k := range keys[:n] {
			if k == key {
				return false
			}
		}
		keys[n] = key
		p.space()
		if !p.eat(':') {
			return false
		}
		p.space()
		if _, ok := p.str(""); !ok {
			return false
		}
		p.space()
		if p.eat('}') {
			return true
		}
		if !p.eat(',') {
			return false
		}
	}
}

// metaKey reads a meta key: a string of 1..MaxMetaKeyLen bytes of the
// MetaKey charset. It returns a slice of s, so it does not allocate.
func (p *scanner) metaKey() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) && metaKeyByte(p.s[p.i]) {
		p.i++
	}
	key := p.s[start:p.i]
	return key, len(key) > 0 && len(key) <= MaxMetaKeyLen && p.eat('"')
}
