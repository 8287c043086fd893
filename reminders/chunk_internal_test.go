package reminders

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestChunkLen: ScheduleMany's script calls hold at most scheduleChunk
// reminders and scheduleChunkBytes of payload, but one reminder always,
// however large; chunks cover the batch in order.
func TestChunkLen(t *testing.T) {
	of := func(n, payload int) []Reminder {
		rs := make([]Reminder, n)
		for i := range rs {
			rs[i].Payload = make([]byte, payload)
		}
		return rs
	}
	for name, tc := range map[string]struct {
		rs   []Reminder
		want []int
	}{
		"small":          {of(300, 77), []int{128, 128, 44}},
		"by bytes":       {of(10, 300<<10), []int{3, 3, 3, 1}},
		"exactly 1 MiB":  {of(4, 256<<10), []int{4}},
		"one over 1 MiB": {of(3, 2<<20), []int{1, 1, 1}},
		"empty payloads": {of(129, 0), []int{128, 1}},
		"one":            {of(1, 77), []int{1}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []int
			for rs := tc.rs; len(rs) > 0; {
				n := chunkLen(rs)
				got = append(got, n)
				rs = rs[n:]
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
