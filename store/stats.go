package store

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher/dispatcher/stats"
)

// Download statistics in Redis: per pool and day, seven keys that share
// one hash tag (one cluster slot), all expiring retention after the day
// ends:
//
//	stats:{pool|day}:t  hash   total, unkeyed, beyond
//	stats:{pool|day}:m  hash   mirror → downloads
//	stats:{pool|day}:c  hash   country → downloads
//	stats:{pool|day}:f  hash   file → downloads, the first Limits.Files files
//	stats:{pool|day}:s  zset   file → Space-Saving count, the later ones
//	stats:{pool|day}:e  hash   file → the count's error, for :s
//	stats:{pool|day}:w:ID      a write already applied (ten minutes)
//
// A write is one script: it applies a batch whole or not at all, and at
// most once per ID.

// statsScript applies one batch. KEYS: t m c f s e w. ARGV: files limit,
// summary limit, expiry (unix seconds), total, unkeyed, then counted
// lists: mirrors, countries, files, each as a count of pairs followed by
// name, downloads pairs.
var statsScript = redis.NewScript(`
if redis.call('SET', KEYS[7], '1', 'NX', 'EX', 600) == false then return 0 end
local t, m, c, f, s, e = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local maxFiles, maxSummary = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('HINCRBY', t, 'total', ARGV[4])
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', t, 'unkeyed', ARGV[5]) end
local i = 6
for _, h in ipairs({m, c}) do
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    redis.call('HINCRBY', h, ARGV[i], ARGV[i + 1]); i = i + 2
  end
end
local n = tonumber(ARGV[i]); i = i + 1
local held = redis.call('HLEN', f)
local beyond = 0
for _ = 1, n do
  local file, d = ARGV[i], tonumber(ARGV[i + 1]); i = i + 2
  if held < maxFiles or redis.call('HEXISTS', f, file) == 1 then
    if redis.call('HINCRBY', f, file, d) == d then held = held + 1 end
  else
    beyond = beyond + d
    if redis.call('ZSCORE', s, file) then
      redis.call('ZINCRBY', s, d, file)
    elseif redis.call('ZCARD', s) < maxSummary then
      redis.call('ZADD', s, d, file)
    else
      local low = redis.call('ZRANGE', s, 0, 0, 'WITHSCORES')
      local floor = tonumber(low[2])
      redis.call('ZREM', s, low[1])
      redis.call('HDEL', e, low[1])
      redis.call('ZADD', s, floor + d, file)
      redis.call('HSET', e, file, floor)
    end
  end
end
if beyond > 0 then redis.call('HINCRBY', t, 'beyond', beyond) end
for k = 1, 6 do redis.call('EXPIREAT', KEYS[k], ARGV[3]) end
return 1
`)

// statsTimeout bounds one write or one day's read.
const statsTimeout = 2 * time.Second

// Downloads is the Redis backend of package stats.
type Downloads struct{ s *Store }

// Downloads returns the store as a stats.Backend.
func (s *Store) Downloads() Downloads { return Downloads{s} }

// base is the prefix of pd's keys, its hash tag included.
func (st Downloads) base(pd stats.PoolDay) string {
	return st.s.Key("stats:" + tag(pd.Pool+"|"+pd.Day.String()))
}

func (st Downloads) keys(pd stats.PoolDay) (t, m, c, f, s, e string) {
	base := st.base(pd)
	return base + ":t", base + ":m", base + ":c", base + ":f", base + ":s", base + ":e"
}

// Write implements stats.Backend.
func (st Downloads) Write(ctx context.Context, pd stats.PoolDay, c *stats.Counts, id string, lim stats.Limits) error {
	t, m, cc, f, s, e := st.keys(pd)
	w := st.base(pd) + ":w:" + id
	exp := pd.Expires(lim.Retention).Unix()
	args := []any{lim.Files, lim.Summary, exp, c.Total, c.Unkeyed}
	for _, h := range []map[string]uint64{c.Mirrors, c.Countries} {
		args = append(args, len(h))
		for k, n := range h {
			args = append(args, k, n)
		}
	}
	args = append(args, len(c.Files))
	for _, k := range c.FileOrder() {
		args = append(args, k, c.Files[k])
	}
	return st.s.Do(ctx, statsTimeout, func(ctx context.Context, rc redis.UniversalClient) error {
		return statsScript.Run(ctx, rc, []string{t, m, cc, f, s, e, w}, args...).Err()
	})
}

// Read implements stats.Backend.
func (st Downloads) Read(ctx context.Context, pd stats.PoolDay, files bool) (stats.Figures, error) {
	t, m, c, f, s, e := st.keys(pd)
	var fig stats.Figures
	err := st.s.Do(ctx, statsTimeout, func(ctx context.Context, rc redis.UniversalClient) error {
		var tc, mc, cc, ec *redis.MapStringStringCmd
		var sc *redis.ZSliceCmd
		_, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			tc, mc, cc = p.HGetAll(ctx, t), p.HGetAll(ctx, m), p.HGetAll(ctx, c)
			if files {
				sc, ec = p.ZRangeWithScores(ctx, s, 0, -1), p.HGetAll(ctx, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		tot := counts(tc.Val())
		fig = stats.Figures{Total: tot["total"], Unkeyed: tot["unkeyed"], Beyond: tot["beyond"],
			Mirrors: counts(mc.Val()), Countries: counts(cc.Val())}
		if !files {
			return nil
		}
		errs := counts(ec.Val())
		fig.Summary = make(map[string]stats.Estimate, len(sc.Val()))
		for _, z := range sc.Val() {
			file, _ := z.Member.(string)
			fig.Summary[file] = stats.Estimate{Count: uint64(z.Score), Err: errs[file]}
		}
		// The exact files may be many: read them in steps, so that no
		// one command holds Redis for long.
		fig.Files = map[string]uint64{}
		var cursor uint64
		for {
			kv, next, err := rc.HScan(ctx, f, cursor, "", 1000).Result()
			if err != nil {
				return err
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if n, err := strconv.ParseUint(kv[i+1], 10, 64); err == nil {
					fig.Files[kv[i]] = n // a field seen twice (a rehash) is the same count
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	})
	return fig, err
}

// counts reads a hash of decimal counts; a field that is not one is
// left out.
func counts(h map[string]string) map[string]uint64 {
	out := make(map[string]uint64, len(h))
	for k, v := range h {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}
