// Package ctl is `dispatcher ctl`: the status, admin, explain and stats
// API of a running dispatcher from a shell.
package ctl

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Exit codes, as the command returns them.
const (
	ExitOK      = 0
	ExitFailure = 1 // the server refused, or could not be reached
	ExitUsage   = 2
)

const usage = `Usage: dispatcher ctl [-addr URL] [-json] COMMAND

Commands:
  status                 pools and mirrors: state, weights, utilisation, redirects/s
  drain POOL MIRROR      take a mirror out (admin)
  enable POOL MIRROR     bring a drained mirror back (admin)
  reload                 reload the configuration file (admin)
  explain PATH [-ip ADDR] [-country CC]
                         why a client gets the mirror it gets
  stats [-pool P] [-by day|mirror|country|file] [-from YYYY-MM-DD] [-to YYYY-MM-DD] [-top N]
                         downloads (default: by day, the last 7 days)

Flags:
  -addr URL      the dispatcher (default http://127.0.0.1:8080; env DISPATCHER_ADDR)
  -json          print the server's JSON answer as it is, for scripts
  -interval D    status: how long redirects/s is measured over (default 1s)
  -timeout D     give up on the server after this long (default 10s)

The admin commands send the token in DISPATCHER_ADMIN_TOKEN.
`

// Options are what Run reads besides the arguments.
type Options struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Client         *http.Client // nil: one with the -timeout
}

// Run runs `dispatcher ctl` with args (after "ctl") and returns the exit
// code.
func Run(ctx context.Context, args []string, o Options) int {
	fs := flag.NewFlagSet("dispatcher ctl", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	fs.Usage = func() { fmt.Fprint(o.Stderr, usage) }
	addr := fs.String("addr", cmp.Or(o.Getenv("DISPATCHER_ADDR"), "http://127.0.0.1:8080"), "")
	asJSON := fs.Bool("json", false, "")
	interval := fs.Duration("interval", time.Second, "")
	timeout := fs.Duration("timeout", 10*time.Second, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return ExitUsage
	}
	cmd, params := rest[0], rest[1:]
	if cmd != "explain" && cmd != "stats" { // these parse flags of their own
		// The common flags may follow the command too: ctl status -json.
		if err := fs.Parse(params); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ExitOK
			}
			return ExitUsage
		}
		params = fs.Args()
	}
	c := &client{addr: strings.TrimSuffix(*addr, "/"), token: o.Getenv("DISPATCHER_ADMIN_TOKEN"), http: o.Client, json: *asJSON, out: o.Stdout}
	if c.http == nil {
		c.http = &http.Client{Timeout: *timeout}
	}
	if _, err := url.ParseRequestURI(c.addr); err != nil || !strings.HasPrefix(c.addr, "http") {
		fmt.Fprintf(o.Stderr, "dispatcher ctl: -addr %q is not an http:// or https:// URL\n", *addr)
		return ExitUsage
	}
	var err error
	switch cmd {
	case "status":
		if len(params) != 0 {
			return usageError(o.Stderr, "status takes no arguments")
		}
		err = c.status(ctx, *interval)
	case "drain", "enable":
		if len(params) != 2 {
			return usageError(o.Stderr, cmd+" takes POOL MIRROR")
		}
		err = c.setEnabled(ctx, cmd, params[0], params[1])
	case "reload":
		if len(params) != 0 {
			return usageError(o.Stderr, "reload takes no arguments")
		}
		err = c.reload(ctx)
	case "explain":
		efs := flag.NewFlagSet("dispatcher ctl explain", flag.ContinueOnError)
		efs.SetOutput(o.Stderr)
		ip := efs.String("ip", "", "explain for this client address")
		country := efs.String("country", "", "explain for a client in this country (ISO 3166 code)")
		efs.BoolVar(&c.json, "json", c.json, "print the answer as JSON")
		path, flags := splitPath(params)
		if err := efs.Parse(flags); err != nil || path == "" || efs.NArg() > 0 {
			return usageError(o.Stderr, "explain takes PATH [-ip ADDR] [-country CC]")
		}
		err = c.explain(ctx, path, *ip, *country)
	case "stats":
		sfs := flag.NewFlagSet("dispatcher ctl stats", flag.ContinueOnError)
		sfs.SetOutput(o.Stderr)
		var q statsQuery
		sfs.StringVar(&q.pool, "pool", "", "the pool (may be left out when there is one)")
		sfs.StringVar(&q.by, "by", "day", "day, mirror, country or file")
		sfs.StringVar(&q.from, "from", "", "first day, YYYY-MM-DD (default: 6 days before -to)")
		sfs.StringVar(&q.to, "to", "", "last day, YYYY-MM-DD (default: today, UTC)")
		sfs.IntVar(&q.top, "top", 0, "at most this many rows")
		sfs.BoolVar(&c.json, "json", c.json, "print the answer as JSON")
		if err := sfs.Parse(params); err != nil || sfs.NArg() > 0 {
			return usageError(o.Stderr, "stats takes [-pool P] [-by day|mirror|country|file] [-from YYYY-MM-DD] [-to YYYY-MM-DD] [-top N]")
		}
		err = c.stats(ctx, q)
	default:
		return usageError(o.Stderr, fmt.Sprintf("unknown command %q", cmd))
	}
	if err != nil {
		fmt.Fprintln(o.Stderr, "dispatcher ctl:", err)
		return ExitFailure
	}
	return ExitOK
}

// splitPath takes the one argument that is not a flag (the path) out of
// params, so that flags may come before or after it.
func splitPath(params []string) (path string, flags []string) {
	for i := 0; i < len(params); i++ {
		p := params[i]
		switch {
		case strings.HasPrefix(p, "-"):
			flags = append(flags, p)
			if !strings.Contains(p, "=") && i+1 < len(params) {
				i++
				flags = append(flags, params[i])
			}
		case path == "":
			path = p
		default:
			flags = append(flags, p) // a second path: the flag parser says so
		}
	}
	return path, flags
}

func usageError(w io.Writer, msg string) int {
	fmt.Fprintf(w, "dispatcher ctl: %s\n\n%s", msg, usage)
	return ExitUsage
}

// client talks to one dispatcher.
type client struct {
	addr, token string
	http        *http.Client
	json        bool
	out         io.Writer
}

// apiError is an answer other than 2xx, told as the operator needs it.
func apiError(resp *http.Response, body []byte) error {
	var e struct {
		Error   string   `json:"error"`
		Details []string `json:"details"`
	}
	json.Unmarshal(body, &e) //nolint:errcheck // a body that is not JSON is quoted below
	msg := e.Error
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("the server refused the admin token (401): set DISPATCHER_ADMIN_TOKEN to the token the dispatcher runs with")
	case http.StatusForbidden:
		return fmt.Errorf("the admin API is off (403): start the dispatcher with DISPATCHER_ADMIN_TOKEN set")
	}
	if len(e.Details) > 0 {
		msg += ":\n  " + strings.Join(e.Details, "\n  ")
	}
	return fmt.Errorf("%s (%s)", msg, resp.Status)
}

// do sends a request and returns the body of a 2xx answer.
func (c *client) do(ctx context.Context, method, path string, admin bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.addr+path, nil)
	if err != nil {
		return nil, err
	}
	if admin && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the dispatcher at %s: %w", c.addr, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", c.addr, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, apiError(resp, body)
	}
	return body, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// printJSON writes body as the server sent it.
func (c *client) printJSON(body []byte) {
	c.out.Write(body) //nolint:errcheck // stdout
	if len(body) > 0 && body[len(body)-1] != '\n' {
		fmt.Fprintln(c.out)
	}
}

func (c *client) setEnabled(ctx context.Context, action, pool, mirror string) error {
	body, err := c.do(ctx, http.MethodPost, "/api/pools/"+url.PathEscape(pool)+"/mirrors/"+url.PathEscape(mirror)+"/"+action, true)
	if err != nil {
		return err
	}
	if c.json {
		c.printJSON(body)
		return nil
	}
	if action == "drain" {
		fmt.Fprintf(c.out, "%s/%s drained: it gets no new clients until enabled\n", pool, mirror)
	} else {
		fmt.Fprintf(c.out, "%s/%s enabled\n", pool, mirror)
	}
	return nil
}

func (c *client) reload(ctx context.Context) error {
	body, err := c.do(ctx, http.MethodPost, "/api/reload", true)
	if err != nil {
		return err
	}
	if c.json {
		c.printJSON(body)
		return nil
	}
	var r struct {
		SHA string `json:"config_sha256"`
	}
	json.Unmarshal(body, &r) //nolint:errcheck // the message does without it
	fmt.Fprintf(c.out, "reloaded (configuration sha256 %s)\n", r.SHA)
	return nil
}
