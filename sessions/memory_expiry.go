package sessions

import "container/heap"

// memEntry is one session or tombstone of the memory store.
type memEntry struct {
	userID, id string
	exp        int64 // Unix ms: gone from this instant on
	index      int   // position in the expiry heap

	// a session
	s Session
	// a tombstone: of a revocation (revoked; nothing else is set), or of
	// a rotation: the successor's ID, when the rotation happened (Unix
	// ms), and the family
	tomb      bool
	revoked   bool
	next      string
	rotatedAt int64
	family    string
}

// expiryHeap orders every entry of the memory store by expiry, so that
// each write purges what has expired, across all users, in O(log n) per
// entry: memory stays proportional to live sessions with no goroutine.
type expiryHeap []*memEntry

var _ heap.Interface = (*expiryHeap)(nil)

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
