package main

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPayloadIs77BytesOfJSONAndRoundTrips(t *testing.T) {
	due := time.Date(2026, 11, 30, 15, 4, 5, 123456789, time.UTC)
	p := encodePayload(4242, due)
	require.Len(t, p, payloadSize)
	var v map[string]any
	require.NoError(t, json.Unmarshal(p, &v), "payload %s", p)

	seq, got, err := decodePayload(p)
	require.NoError(t, err)
	assert.Equal(t, 4242, seq)
	assert.True(t, got.Equal(due), "due %s, want %s", got, due)

	_, _, err = decodePayload([]byte(`{"seq":1}`))
	assert.Error(t, err)
}

func TestDeliveriesCountsDuplicatesAndEarly(t *testing.T) {
	d := newDeliveries(3)
	now := time.Now()
	var wg sync.WaitGroup
	// seq 0 is due in an hour: delivering it now is early. seq 1 is
	// delivered twice, concurrently.
	for _, p := range [][]byte{encodePayload(0, now.Add(time.Hour)), encodePayload(1, now), encodePayload(1, now)} {
		wg.Add(1)
		go func() { defer wg.Done(); d.handle(p) }()
	}
	wg.Wait()
	assert.False(t, d.wait(10*time.Millisecond), "seq 2 was never delivered")
	d.handle(encodePayload(2, now))
	assert.True(t, d.wait(time.Second))
	d.handle([]byte("not ours"))

	late, early := d.lateness()
	assert.Len(t, late, 3)
	assert.Equal(t, 1, early)
	assert.Equal(t, int64(1), d.duplicates.Load())
	assert.Equal(t, int64(1), d.bad.Load())
}
