package reminders

import "time"

// Stats counts a Redis scheduler's reminders, over all shards and per shard.
type Stats struct {
	// Pending counts scheduled reminders not yet claimed, due or not
	// (including retries waiting out their backoff).
	Pending int64
	// InFlight counts claimed reminders not yet settled or taken back: the
	// ones a worker holds, and any whose lease expired (the worker died)
	// and that no worker has taken back yet; one that claims next does.
	InFlight int64
	// Dead counts reminders in the dead-letter set.
	Dead int64
	// Shards has one entry per shard, in shard order.
	Shards []ShardStats
}

// ShardStats counts one shard's reminders.
type ShardStats struct {
	// Shard is the shard's index, 0..WithShards-1.
	Shard int
	// Pending counts the shard's reminders as Stats.Pending does.
	Pending int64
	// InFlight counts the shard's reminders as Stats.InFlight does.
	InFlight int64
	// Dead counts the shard's reminders as Stats.Dead does.
	Dead int64
}

// DeadReminder is a reminder in the dead-letter set.
type DeadReminder struct {
	Reminder
	// Attempts is how many attempts were made.
	Attempts int
	// LastError is the last attempt's error text, or the reason it was
	// dead-lettered without an attempt ("corrupt" for a record that cannot
	// be decoded).
	LastError string
	// DiedAt is when it was dead-lettered (Redis server time, UTC).
	DiedAt time.Time
}
