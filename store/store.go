// Package store shares state between dispatcher instances through Redis:
// the round-robin positions, redirect counts, drained mirrors, and the
// feedback lease and results. Nothing in it may fail a request: when Redis
// does not answer within a small budget, the caller gets the in-process
// answer and the store says so once, then returns to Redis by itself.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is a connection to the Redis shared by a fleet of dispatchers. It is
// safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	budget time.Duration
	log    *slog.Logger

	connected atomic.Bool
	lastErr   atomic.Pointer[string]
	// answeredAt is when Redis last answered (monotonic, since epoch): a
	// call that began before it and fails is stale news (it hung on a
	// connection from before the outage) and does not mark Redis
	// unreachable again.
	answeredAt atomic.Int64
	epoch      time.Time

	fallbacks  atomic.Uint64 // positions handed out locally
	roundTrips atomic.Uint64 // INCRBY calls
	positions  atomic.Uint64 // positions obtained from Redis

	mu   sync.Mutex
	seqs map[string]*Sequence

	stop chan struct{}
	wg   sync.WaitGroup
}

// Options configure Open.
type Options struct {
	// URL is redis://, rediss://, redis+sentinel:// or redis+cluster://.
	URL string
	// Budget is how long a request may wait for Redis (default 5ms).
	Budget time.Duration
	// Prefix namespaces every key (default "dispatcher:").
	Prefix string
	Log    *slog.Logger
	// CheckEvery is how often an unreachable Redis is tried again
	// (default 100ms).
	CheckEvery time.Duration
}

// ParseURL turns a Redis URL into client options. Forms:
//
//	redis://[user:password@]host:port[/db]            one server
//	rediss://…                                        the same over TLS
//	redis+sentinel://[user:password@]host:port[/db]?master_name=NAME[&addr=host:port…]
//	redis+cluster://[user:password@]host:port[?addr=host:port…]
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the URL, password and all.
		return nil, errors.New("redis URL does not parse (want redis://[user:password@]host:port[/db])")
	}
	scheme, mode, _ := strings.Cut(u.Scheme, "+")
	if scheme != "redis" && scheme != "rediss" {
		return nil, fmt.Errorf("redis URL %q: scheme must be redis, rediss, redis+sentinel or redis+cluster", redact(raw))
	}
	plain := strings.Replace(raw, u.Scheme+"://", scheme+"://", 1)
	switch mode {
	case "":
		o, err := redis.ParseURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
		}
		return &redis.UniversalOptions{Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username,
			Password: o.Password, TLSConfig: o.TLSConfig}, nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
		}
		if o.MasterName == "" {
			return nil, fmt.Errorf("redis URL %q: a sentinel URL needs ?master_name=NAME", redact(raw))
		}
		return &redis.UniversalOptions{Addrs: o.SentinelAddrs, MasterName: o.MasterName, DB: o.DB,
			Username: o.Username, Password: o.Password, SentinelUsername: o.SentinelUsername,
			SentinelPassword: o.SentinelPassword, TLSConfig: o.TLSConfig}, nil
	case "cluster":
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
		}
		return &redis.UniversalOptions{Addrs: o.Addrs, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, IsClusterMode: true}, nil
	}
	return nil, fmt.Errorf("redis URL %q: unknown mode %q (want sentinel or cluster)", redact(raw), mode)
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Open connects to Redis. An unreachable Redis is not an error: the store
// starts disconnected and keeps trying in the background until Close.
func Open(o Options) (*Store, error) {
	uo, err := ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Budget <= 0 {
		o.Budget = 5 * time.Millisecond
	}
	if o.Prefix == "" {
		o.Prefix = "dispatcher:"
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = 100 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// Every call carries its own deadline; go-redis must neither retry
	// nor wait for a dial longer than that.
	uo.ContextTimeoutEnabled = true
	uo.MaxRetries = -1
	uo.DialerRetries = 1
	uo.DialTimeout = time.Second
	uo.ReadTimeout = time.Second
	uo.WriteTimeout = time.Second
	uo.PoolTimeout = 100 * time.Millisecond
	uo.Protocol = 2
	s := &Store{
		client: redis.NewUniversalClient(uo),
		prefix: o.Prefix,
		budget: o.Budget,
		log:    o.Log.With("component", "redis", "redis", redact(o.URL)),
		seqs:   map[string]*Sequence{},
		stop:   make(chan struct{}),
		epoch:  time.Now(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err = s.client.Ping(ctx).Err()
	cancel()
	if err != nil {
		s.setErr(err)
		s.log.Warn("redis unreachable at start; in-process state until it answers", "err", err.Error())
	} else {
		s.connected.Store(true)
		s.answeredAt.Store(s.now())
		s.log.Info("redis connected; state is shared")
	}
	s.wg.Add(1)
	go s.watch(o.CheckEvery)
	return s, nil
}

// Close stops the background work and closes the connections.
func (s *Store) Close() error {
	close(s.stop)
	s.wg.Wait()
	return s.client.Close()
}

// Connected reports whether Redis answered the last call.
func (s *Store) Connected() bool { return s.connected.Load() }

// LastError returns the last Redis error ("" when none).
func (s *Store) LastError() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Stats returns the counters of the round-robin sequences: positions
// taken locally because Redis did not answer, INCRBY round trips, and
// positions obtained from Redis.
func (s *Store) Stats() (fallbacks, roundTrips, positions uint64) {
	return s.fallbacks.Load(), s.roundTrips.Load(), s.positions.Load()
}

// Key returns the namespaced Redis key for name.
func (s *Store) Key(name string) string { return s.prefix + name }

// Client returns the Redis client, for the feedback lease and results.
func (s *Store) Client() redis.UniversalClient { return s.client }

func (s *Store) setErr(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// now is the store's monotonic clock, for began and answeredAt.
func (s *Store) now() int64 { return int64(time.Since(s.epoch)) }

// failed records that a call begun at began (s.now) did not succeed; the
// first failure after a success is logged. A call that began before
// Redis last answered says nothing about Redis now: after an outage,
// calls that hung on the old connections (a host that drops packets
// rather than refusing them) end with timeouts after Redis is back, and
// must not flip the state back and forth.
func (s *Store) failed(err error, began int64) {
	if began < s.answeredAt.Load() {
		return
	}
	s.setErr(err)
	if s.connected.Swap(false) {
		s.log.Warn("redis unreachable; using in-process state until it answers", "err", err.Error())
	}
}

// succeeded records a successful call; the first after a failure is logged.
func (s *Store) succeeded() {
	s.answeredAt.Store(s.now())
	if !s.connected.Swap(true) {
		s.log.Info("redis reachable again; shared state resumed")
	}
}

// Do runs f with a context bounded by timeout and tracks the connection
// state. It is for background work (counts, drains, feedback).
func (s *Store) Do(ctx context.Context, timeout time.Duration, f func(ctx context.Context, c redis.UniversalClient) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	began := s.now()
	err := f(ctx, s.client)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		s.succeeded()
		return err
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		return err
	case isCommandError(err):
		// Redis answered, with an error: the command is wrong (CROSSSLOT,
		// WRONGTYPE, NOSCRIPT…), not the connection. Shared state goes on.
		s.setErr(err)
		s.succeeded()
		return err
	default:
		s.failed(err, began)
		return err
	}
}

// isCommandError reports whether err is an error reply from a Redis that
// serves (not a network failure, a timeout, or a server that cannot
// serve now: LOADING, CLUSTERDOWN, MASTERDOWN, TRYAGAIN, READONLY).
func isCommandError(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, outage := range []string{"LOADING", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "READONLY", "BUSY"} {
		if strings.HasPrefix(msg, outage) {
			return false
		}
	}
	return true
}

// watch pings an unreachable Redis until it answers.
func (s *Store) watch(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.connected.Load() {
			continue
		}
		// Err is ignored: Do records it.
		_ = s.Do(context.Background(), 200*time.Millisecond, func(ctx context.Context, c redis.UniversalClient) error { //nolint:errcheck
			return c.Ping(ctx).Err()
		})
	}
}

// SetLogger sends go-redis's own messages (sentinel switches, pool
// notices) to log at Debug level. go-redis keeps one logger per process.
func SetLogger(log *slog.Logger) {
	redis.SetLogger(redisLogger{log.With("component", "go-redis")})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
