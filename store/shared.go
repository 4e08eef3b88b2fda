package store

import (
	"context"
	"errors"
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

// filesTimeout bounds one exchange of file scan results (a million files
// make a blob of some MB).
const filesTimeout = 30 * time.Second

// PublishFiles stores a pool's file scan results, tagged version, in two
// keys whatever their size: the blob and its version.
func (s *Store) PublishFiles(ctx context.Context, pool, version string, data []byte) error {
	return s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, s.Key("files:"+pool), data, 0)
			p.Set(ctx, s.Key("files:"+pool+":version"), version, 0)
			return nil
		})
		return err
	})
}

// FetchFiles returns a pool's latest file scan results unless their
// version is have (then data is nil, as when none were published).
func (s *Store) FetchFiles(ctx context.Context, pool, have string) (version string, data []byte, err error) {
	err = s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		v, err := c.Get(ctx, s.Key("files:"+pool+":version")).Result()
		if err != nil || v == have {
			return err
		}
		var vc *redis.StringCmd
		var dc *redis.StringCmd
		if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			vc = p.Get(ctx, s.Key("files:"+pool+":version"))
			dc = p.Get(ctx, s.Key("files:"+pool))
			return nil
		}); err != nil {
			return err
		}
		version = vc.Val()
		data, err = dc.Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return "", nil, nil
	}
	return version, data, err
}
