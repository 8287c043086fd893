package reminders

// Fuzz targets for every decoder of stored data (the record, the wake
// message) and for input validation. Seed corpora are in
// testdata/fuzz/<target>; `go test` runs the seeds, `go test -fuzz
// '^FuzzX$'` explores (.ci/run does, a few seconds each).

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParseRecord: whatever is in the rec hash, parseRecord never panics,
// and what it accepts is a record a handler may see: attempt at least 1, a
// Kind within the Reminder limits, and a canonical re-encoding that parses
// back to the same record.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"7,1,1700000000000,appointments.send_reminder\n{\"id\":42}",
		"7,3,-5,k\n",
		"7,1,1700000000000,k",
		"7,0,1,k\npayload",
		"7,1,1e3,k\np",
		"x,1,1,k\np",
		"7,1,1,\np",
		"7,1,1,bad\x01kind\np",
		"99999999999999999999,1,1,k\np",
		"7,1,-,k\np",
		"7,1,1,k\n\n\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := parseRecord(s)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("parseRecord(%q): error %v is not errCorrupt", s, err)
			}
			return
		}
		if rec.attempt < 1 {
			t.Fatalf("parseRecord(%q): attempt %d", s, rec.attempt)
		}
		if !validKind(rec.kind) {
			t.Fatalf("parseRecord(%q): kind %q breaks the Reminder limits", s, rec.kind)
		}
		canon := rec.version + "," + strconv.Itoa(rec.attempt) + "," + strconv.FormatInt(rec.due, 10) + "," + rec.kind + "\n" + string(rec.payload)
		back, err := parseRecord(canon)
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", canon, err)
		}
		if back.version != rec.version || back.attempt != rec.attempt || back.due != rec.due ||
			back.kind != rec.kind || string(back.payload) != string(rec.payload) {
			t.Fatalf("round trip of %q: %+v, then %+v", s, rec, back)
		}
		r := rec.reminder("id")
		if r.DueAt.UnixMilli() != rec.due {
			t.Fatalf("reminder DueAt %v for due %d", r.DueAt, rec.due)
		}
	})
}

// FuzzEncodeRecord: what Schedule stores for a valid reminder is the
// compact record of scripts/lib.lua: "~1,", the Kind's ref (11 characters
// that are neither ',' nor '=' nor '\n', so the script's pattern finds
// where it ends), '\n', then the payload as it is; the ref depends on the
// Kind only.
func FuzzEncodeRecord(f *testing.F) {
	f.Add("appointment:42", "appointments.send_reminder", []byte(`{"id":42}`))
	f.Add("id", "k", []byte(nil))
	f.Add("id", "k", []byte("a\nb,c"))
	f.Fuzz(func(t *testing.T, id, kind string, payload []byte) {
		r := Reminder{ID: id, Kind: kind, DueAt: time.UnixMilli(1), Payload: payload}
		if validate(r, 1<<20) != nil {
			return
		}
		ref := kindRef(kind)
		if len(ref) != 11 || strings.ContainsAny(ref, ",=\n") || ref != kindRef(strings.Clone(kind)) {
			t.Fatalf("kindRef(%q) = %q", kind, ref)
		}
		enc := string(encodeRecord(r, ref))
		if want := "~1," + ref + "\n" + string(payload); enc != want {
			t.Fatalf("encodeRecord(%+v) = %q, want %q", r, enc, want)
		}
	})
}

// FuzzParseWake: a message on the wake channel may come from anything that
// can PUBLISH; only "<shard>:<due ms>" for a shard that exists is taken.
func FuzzParseWake(f *testing.F) {
	for _, s := range []string{"0:1700000000000", "3:-1", "4:5", "-1:5", "a:b", "1:", ":1", "1:2:3", ""} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, shards int) {
		sh, due, ok := parseWake(s, shards)
		if !ok {
			return
		}
		if sh < 0 || sh >= shards {
			t.Fatalf("parseWake(%q, %d): shard %d out of range", s, shards, sh)
		}
		sh2, due2, ok2 := parseWake(strconv.Itoa(sh)+":"+strconv.FormatInt(due, 10), shards)
		if !ok2 || sh2 != sh || due2 != due {
			t.Fatalf("parseWake(%q): (%d, %d) does not round-trip", s, sh, due)
		}
	})
}

// FuzzValidateReminder: validate accepts exactly the reminders within the
// documented limits (written out again here, independently) and names the
// field it refuses; the stored due time is never before DueAt.
func FuzzValidateReminder(f *testing.F) {
	f.Add("appointment:42", "appointments.send_reminder", int64(1_700_000_000_000_000_000), false, []byte(`{"id":42}`))
	f.Add("", "k", int64(1), false, []byte(nil))
	f.Add("id", "", int64(1), false, []byte(nil))
	f.Add("id", "k\n", int64(1), false, []byte(nil))
	f.Add("id\u0085", "k", int64(1), false, []byte(nil))
	f.Add("\xff", "k", int64(1), false, []byte(nil))
	f.Add(strings.Repeat("é", 129), "k", int64(1), false, []byte(nil))
	f.Add("id", "k", int64(-1), false, make([]byte, 65))
	f.Add("id", "k", int64(1_500_000), false, []byte(nil))
	f.Add("id", "k", int64(0), true, []byte(nil))
	const maxPayload = 64
	f.Fuzz(func(t *testing.T, id, kind string, dueNanos int64, zero bool, payload []byte) {
		due := time.Unix(0, dueNanos)
		if zero {
			due = time.Time{}
		}
		r := Reminder{ID: id, Kind: kind, DueAt: due, Payload: payload}
		err := validate(r, maxPayload)
		// time.Unix(0, n) spans ±292 years: within the DueAt range (see
		// TestValidateDueAtRange for its edges).
		want := validKind(id) && validKind(kind) && !due.IsZero() && len(payload) <= maxPayload
		if (err == nil) != want {
			t.Fatalf("validate(%+v) = %v, want ok=%v", r, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			named := false
			for _, field := range []string{"ID", "Kind", "DueAt", "Payload"} {
				named = named || strings.Contains(err.Error(), field)
			}
			if !named {
				t.Fatalf("error %q names no field", err)
			}
			return
		}
		ms := dueMillis(due)
		if time.UnixMilli(ms).Before(due) {
			t.Fatalf("dueMillis(%v) = %d: before DueAt", due, ms)
		}
		if time.UnixMilli(ms).Sub(due) >= time.Millisecond {
			t.Fatalf("dueMillis(%v) = %d: a whole millisecond late", due, ms)
		}
	})
}

// validKind is the documented limit on ID and Kind, written independently
// of validName: 1..MaxIDLen bytes of UTF-8 with no control character.
func validKind(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

// TestValidateDueAtRange: DueAt is accepted up to ±(2^53-1) ms from 1970,
// what a Lua number and a sorted-set score hold exactly, and refused past
// it, naming DueAt, including far beyond where time.UnixMilli wraps. The
// accepted extremes round-trip through dueMillis.
func TestValidateDueAtRange(t *testing.T) {
	const limit = 1<<53 - 1
	valid := Reminder{ID: "id", Kind: "k"}
	for _, tc := range []struct {
		name string
		due  time.Time
		ok   bool
	}{
		{"UpperLimit", time.UnixMilli(limit), true},
		{"LowerLimit", time.UnixMilli(-limit), true},
		{"JustBelowUpperLimitRoundsToIt", time.UnixMilli(limit).Add(-time.Nanosecond), true},
		{"SubMillisecondPastUpperLimit", time.UnixMilli(limit).Add(time.Nanosecond), false},
		{"PastUpperLimit", time.UnixMilli(limit + 1), false},
		{"PastLowerLimit", time.UnixMilli(-limit - 1), false},
		{"WhereUnixMilliWraps", time.Unix(math.MaxInt64/1000+1, 0), false},
		{"Year300Million", time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"YearMinus300Million", time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"LargestTime", time.Unix(1<<63-62135596801, 999999999), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid
			r.DueAt = tc.due
			err := validate(r, 64)
			if !tc.ok {
				require.ErrorIs(t, err, ErrInvalid)
				assert.ErrorContains(t, err, "DueAt")
				return
			}
			require.NoError(t, err)
			ms := dueMillis(tc.due)
			assert.False(t, time.UnixMilli(ms).Before(tc.due), "rounded up")
			assert.LessOrEqual(t, ms, int64(limit))
			assert.GreaterOrEqual(t, ms, int64(-limit))
		})
	}
}
