package reminders

// ShardOf is shardOf, for the external tests that place IDs on a shard.
var ShardOf = shardOf
