// Command dispatcher answers download and entry-point URLs with a 302 to
// the best mirror. See README.md.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on DISPATCHER_PPROF
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/ctl"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/deadline"
	"github.com/dispatcher/dispatcher/internal/jsonlog"
	"github.com/dispatcher/dispatcher/server"
	"github.com/dispatcher/dispatcher/store"
	"github.com/dispatcher/dispatcher/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2) // as the flag package does
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "dispatcher:", err)
		}
		os.Exit(1)
	}
}

var (
	// errReported means the failure was already printed.
	errReported = errors.New("reported")
	// errUsage means the command line was wrong; the usage was printed.
	errUsage = errors.New("usage")
)

// usageEnv is the part of -help that lists the environment.
const usageEnv = `
Environment (a flag overrides it; it overrides mirrors.json):
  DISPATCHER_CONFIG       the configuration file
  DISPATCHER_LISTEN       the listen address
  DISPATCHER_REDIS        the Redis URL
  DISPATCHER_GEOIP        the MaxMind mmdb file
  DISPATCHER_ADMIN_TOKEN  bearer token of the admin API (unset: the admin API answers 403)
  DISPATCHER_PPROF        address of a separate net/http/pprof listener, e.g. 127.0.0.1:6060
  GOGC                    the garbage collector's heap growth, in percent (default 400)
`

// flags are the command line; empty strings mean "not given".
type flags struct {
	config, listen, redis, geoip string
	check, version, quiet        bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "configuration file (default mirrors.json; env DISPATCHER_CONFIG)")
	fs.StringVar(&f.listen, "listen", "", "listen address, overrides the file (env DISPATCHER_LISTEN)")
	fs.StringVar(&f.redis, "redis", "", "Redis URL, overrides the file (env DISPATCHER_REDIS)")
	fs.StringVar(&f.geoip, "geoip", "", "MaxMind mmdb file, overrides the file (env DISPATCHER_GEOIP)")
	fs.BoolVar(&f.check, "check", false, "check the configuration and exit 0 (good) or 1 (errors listed)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.BoolVar(&f.quiet, "quiet", false, "no access log")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [-config mirrors.json] [-listen :8080] [-redis URL] [-geoip FILE] [-check] [-version] [-quiet]\n", fs.Name())
		fmt.Fprintf(fs.Output(), "       %s ctl [-addr URL] [-json] status | drain POOL MIRROR | enable POOL MIRROR | reload | explain PATH [-ip ADDR]\n\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageEnv)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (the configuration file is given with -config FILE)\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return f, errUsage
	}
	return f, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "ctl" {
		switch ctl.Run(ctx, args[2:], ctl.Options{Stdout: stdout, Stderr: stderr, Getenv: getenv}) {
		case ctl.ExitOK:
			return nil
		case ctl.ExitUsage:
			return errUsage
		default:
			return errReported
		}
	}
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage // the flag package printed the error and the usage
	}
	if f.version {
		fmt.Fprintln(stdout, "dispatcher", version)
		return nil
	}
	gin.SetMode(gin.ReleaseMode)
	gogc := setGCPercent(getenv)
	path := cmp.Or(f.config, getenv("DISPATCHER_CONFIG"), "mirrors.json")
	// Precedence: flag, then environment, then the file.
	ov := config.Overrides{
		Listen: cmp.Or(f.listen, getenv("DISPATCHER_LISTEN")),
		Redis:  cmp.Or(f.redis, getenv("DISPATCHER_REDIS")),
		GeoIP:  cmp.Or(f.geoip, getenv("DISPATCHER_GEOIP")),
	}
	if f.check {
		return check(path, ov, stdout, stderr)
	}

	// The log never blocks a request: lines go through a bounded buffer
	// written by one goroutine, dropped and counted when the output
	// stalls; error lines are written at once, and everything is flushed
	// on the way out (at most 2 s when the output is blocked).
	logOut := jsonlog.NewWriter(stderr, 100*time.Millisecond)
	defer logOut.Close(2 * time.Second)
	log := jsonlog.NewLogger(logOut, nil)
	logOut.OnRecover = func(n uint64) {
		log.Warn("log output was blocked; lines dropped", "dropped", n)
	}
	store.SetLogger(log)

	var access handlers.AccessLog
	if !f.quiet {
		access = jsonlog.NewAccessLog(logOut)
	}
	srv, err := server.New(server.Options{
		ConfigPath: path,
		Overrides:  ov,
		Log:        log,
		AdminToken: getenv("DISPATCHER_ADMIN_TOKEN"),
		AccessLog:  access,
		Dashboard:  web.FS,
		Version:    version,
		LogDropped: logOut.Dropped,
	})
	if err != nil {
		logOut.Flush(2 * time.Second)
		fmt.Fprintf(stderr, "dispatcher: configuration rejected:\n%v\n", err)
		return errReported
	}
	cfg := srv.Config()
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Stop()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	// The timeouts reach the sockets through a deadline.Listener: each
	// costs a request a stored time rather than a runtime timer, and a
	// write that stalls is cut on every request of a connection (see
	// internal/deadline).
	ln = deadline.Listen(ln, 10*time.Second, 0)
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "config", cfg.File, "config_sha256", cfg.SHA256, "version", version, "gogc", gogc)

	if addr := getenv("DISPATCHER_PPROF"); addr != "" {
		// Profiling, on its own listener so it is never on the public port.
		pl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("DISPATCHER_PPROF %s: %w", addr, err)
		}
		ps := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
		go ps.Serve(pl) //nolint:errcheck // ends with the process
		defer ps.Close()
		log.Info("pprof listening", "addr", pl.Addr().String())
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupDone := make(chan struct{})
	defer func() { <-hupDone }() // before srv.Stop
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reloadOnSignal(ctx, srv, log)
			}
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// reloadOnSignal reloads for a SIGHUP. Errors are logged by Reload and the
// old configuration keeps serving; a panic is logged, not fatal.
func reloadOnSignal(ctx context.Context, srv *server.Server, log *slog.Logger) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("reload panicked; the old configuration keeps serving", "panic", fmt.Sprint(v))
		}
	}()
	_ = srv.Reload(ctx) //nolint:errcheck // logged by Reload
}

// check validates the configuration like nginx -t.
func check(path string, ov config.Overrides, stdout, stderr io.Writer) error {
	cfg, err := server.Load(path, ov)
	if err != nil {
		fmt.Fprintf(stderr, "%v\ndispatcher: configuration file %s test failed\n", err, path)
		return errReported
	}
	fmt.Fprintf(stdout, "dispatcher: configuration file %s test is successful (%d pools, sha256 %s)\n", path, len(cfg.Pools), cfg.SHA256[:12])
	return nil
}
