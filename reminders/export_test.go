package reminders

// ShardOf is shardOf, for the external tests that place IDs on a shard.
var ShardOf = shardOf

// Waiting is how many Schedule calls wait in shard's group commit queue.
func (s *RedisScheduler) Waiting(shard int) int {
	q := &s.queues[shard]
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// WaitSends waits for the group commit batches on their way, and their
// reports to the observer.
func (s *RedisScheduler) WaitSends() { s.sends.Wait() }

// DueBucket is dueBucket, for the external tests that write a shard's due
// index as a claim would.
var DueBucket = dueBucket
