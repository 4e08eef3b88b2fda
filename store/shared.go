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

// tag makes a pool's name a Redis Cluster hash tag: the keys a pool's
// multi-key operations touch (a blob and its version, a View and its
// status) hash to one slot, so MULTI/EXEC works on a cluster. A '{' or
// '}' in the name would end the tag early; they are replaced.
func tag(pool string) string {
	return "{" + strings.NewReplacer("{", "(", "}", ")").Replace(pool) + "}"
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

// FileResults is the Store as a files.Sharer: it carries file scan
// results between instances.
type FileResults struct{ Store *Store }

// Publish implements files.Sharer with PublishFiles.
func (f FileResults) Publish(ctx context.Context, pool, version string, view, status []byte) error {
	return f.Store.PublishFiles(ctx, pool, version, view, status)
}

// Fetch implements files.Sharer with FetchFiles.
func (f FileResults) Fetch(ctx context.Context, pool, have string) (string, []byte, []byte, error) {
	return f.Store.FetchFiles(ctx, pool, have)
}

// Version implements files.Sharer with FilesVersion.
func (f FileResults) Version(ctx context.Context, pool string) (string, error) {
	return f.Store.FilesVersion(ctx, pool)
}

// FilesVersion returns the version of a pool's latest published View, ""
// when there is none.
func (s *Store) FilesVersion(ctx context.Context, pool string) (version string, err error) {
	err = s.Do(ctx, syncTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		version, err = c.Get(ctx, s.Key("files:"+tag(pool))+":version").Result()
		if errors.Is(err, redis.Nil) {
			version, err = "", nil
		}
		return err
	})
	return version, err
}

// PublishFiles stores a pool's file scan status and, when view is not
// nil, its View tagged version: three keys whatever their size.
func (s *Store) PublishFiles(ctx context.Context, pool, version string, view, status []byte) error {
	return s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if view != nil {
				publishVersioned(ctx, p, s.Key("files:"+tag(pool)), version, view)
			}
			p.Set(ctx, s.Key("files:"+tag(pool)+":status"), status, 0)
			return nil
		})
		return err
	})
}

// FetchFiles returns a pool's latest file scan status, and its View
// unless its version is have (then view is nil, as when none was
// published).
func (s *Store) FetchFiles(ctx context.Context, pool, have string) (version string, view, status []byte, err error) {
	err = s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		status, err = c.Get(ctx, s.Key("files:"+tag(pool)+":status")).Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		version, view, err = fetchVersioned(ctx, c, s.Key("files:"+tag(pool)), have)
		return err
	})
	return version, view, status, err
}

// fetchVersioned reads the blob at key unless its version (at
// key:version) is have; data is nil then, or when there is none.
func fetchVersioned(ctx context.Context, c redis.UniversalClient, key, have string) (version string, data []byte, err error) {
	v, err := c.Get(ctx, key+":version").Result()
	if errors.Is(err, redis.Nil) || err == nil && v == have {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	var vc, dc *redis.StringCmd
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		vc = p.Get(ctx, key+":version")
		dc = p.Get(ctx, key)
		return nil
	}); err != nil {
		if errors.Is(err, redis.Nil) {
			return "", nil, nil
		}
		return "", nil, err
	}
	data, err = dc.Bytes()
	return vc.Val(), data, err
}

// publishVersioned queues the writes of a blob and its version.
func publishVersioned(ctx context.Context, p redis.Pipeliner, key, version string, data []byte) {
	p.Set(ctx, key, data, 0)
	p.Set(ctx, key+":version", version, 0)
}

// AskVerify hands paths requested of this instance to the one that checks
// them (a set per pool, which forgets them after a minute without news).
func (s *Store) AskVerify(ctx context.Context, pool string, paths []string) error {
	return s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		args := make([]any, len(paths))
		for i, p := range paths {
			args[i] = p
		}
		key := s.Key("verify:" + tag(pool) + ":asked")
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, key, args...)
			p.Expire(ctx, key, time.Minute)
			return nil
		})
		return err
	})
}

// AskedVerify takes up to n of the paths asked for in a pool.
func (s *Store) AskedVerify(ctx context.Context, pool string, n int) (paths []string, err error) {
	err = s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		paths, err = c.SPopN(ctx, s.Key("verify:"+tag(pool)+":asked"), int64(n)).Result()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return err
	})
	return paths, err
}

// PublishVerdicts stores a pool's file check verdicts, tagged version.
func (s *Store) PublishVerdicts(ctx context.Context, pool, version string, data []byte) error {
	return s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			publishVersioned(ctx, p, s.Key("verify:"+tag(pool)+":verdicts"), version, data)
			return nil
		})
		return err
	})
}

// FetchVerdicts returns a pool's latest file check verdicts unless their
// version is have.
func (s *Store) FetchVerdicts(ctx context.Context, pool, have string) (version string, data []byte, err error) {
	err = s.Do(ctx, filesTimeout, func(ctx context.Context, c redis.UniversalClient) error {
		version, data, err = fetchVersioned(ctx, c, s.Key("verify:"+tag(pool)+":verdicts"), have)
		return err
	})
	return version, data, err
}
