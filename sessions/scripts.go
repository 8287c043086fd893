package sessions

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts, one per Redis write operation. Each runs lib.lua's
// helpers first; the header of each file lists its KEYS, ARGV and reply.
// redis.Script sends EVALSHA and falls back to EVAL once per server when
// the script is not cached there yet.
var (
	//go:embed scripts/lib.lua
	luaLib string
	//go:embed scripts/remember.lua
	luaRemember string
	//go:embed scripts/revoke.lua
	luaRevoke string
	//go:embed scripts/revoke_all.lua
	luaRevokeAll string
	//go:embed scripts/rotate.lua
	luaRotate string
	//go:embed scripts/list.lua
	luaList string
)

// scripts holds the compiled scripts. They are immutable, so one set
// serves every RedisStore.
type scripts struct {
	remember, revoke, revokeAll, rotate, list *redis.Script
}

func newScripts() scripts {
	with := func(body string) *redis.Script { return redis.NewScript(luaLib + "\n" + body) }
	return scripts{
		remember:  with(luaRemember),
		revoke:    with(luaRevoke),
		revokeAll: with(luaRevokeAll),
		rotate:    with(luaRotate),
		list:      with(luaList),
	}
}
