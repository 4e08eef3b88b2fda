package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MirrorKey names a mirror of a pool.
type MirrorKey struct{ Pool, Mirror string }

func (k MirrorKey) field() string { return k.Pool + "/" + k.Mirror }

func parseField(f string) (MirrorKey, bool) {
	pool, mirror, ok := strings.Cut(f, "/")
	return MirrorKey{pool, mirror}, ok
}

// syncTimeout bounds one background exchange with Redis.
const syncTimeout = 500 * time.Millisecond

// AddCounts adds deltas to the shared redirect counts and returns the
// fleet-wide totals of every mirror, in one round trip. On error nothing
// is known to be added: the caller keeps its deltas for the next call.
func (s *Store) AddCounts(ctx context.Context, deltas map[MirrorKey]uint64) (map[MirrorKey]uint64, error) {
	key := s.Key("redirects")
	var all *redis.MapStringStringCmd
	err := s.Do(ctx, syncTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for k, d := range deltas {
				if d > 0 {
					p.HIncrBy(ctx, key, k.field(), int64(d))
				}
			}
			all = p.HGetAll(ctx, key)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	totals := map[MirrorKey]uint64{}
	for f, v := range all.Val() {
		k, ok := parseField(f)
		n, err := strconv.ParseUint(v, 10, 64)
		if ok && err == nil {
			totals[k] = n
		}
	}
	return totals, nil
}

// SetDrained records in Redis that a mirror is drained (or no longer).
func (s *Store) SetDrained(ctx context.Context, k MirrorKey, drained bool) error {
	key := s.Key("drained")
	return s.Do(ctx, syncTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		if drained {
			return c.HSet(ctx, key, k.field(), "1").Err()
		}
		return c.HDel(ctx, key, k.field()).Err()
	})
}

// Drained returns the mirrors drained fleet-wide.
func (s *Store) Drained(ctx context.Context) (map[MirrorKey]bool, error) {
	var fields []string
	err := s.Do(ctx, syncTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		fields, err = c.HKeys(ctx, s.Key("drained")).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[MirrorKey]bool, len(fields))
	for _, f := range fields {
		if k, ok := parseField(f); ok {
			out[k] = true
		}
	}
	return out, nil
}
