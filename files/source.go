package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Source is a tree that can be listed: a directory or an rsync module.
type Source interface {
	// List calls fn for every regular file of the tree; odd lines or
	// entries are reported to bad and skipped.
	List(ctx context.Context, fn func(Entry) error, bad func(error)) error
	// String names the tree in messages (never with a password).
	String() string
}

// Dir is a local directory tree.
type Dir string

// List implements Source.
func (d Dir) List(ctx context.Context, fn func(Entry) error, bad func(error)) error {
	return WalkDir(string(d), func(e Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(e)
	}, func(p string, err error) { bad(fmt.Errorf("%s: %w", p, err)) })
}

func (d Dir) String() string { return string(d) }

// Rsync is an rsync module (rsync://host[:port]/module[/path]) listed with
// the real rsync client, `rsync --list-only -r`.
type Rsync struct {
	URL string
	// Bin is the rsync program ("" : rsync from PATH).
	Bin string
}

// List implements Source. The rsync client runs with TZ=UTC, so the times
// it prints are read in UTC whatever the dispatcher's or the mirror's time
// zone (a local zone makes the hour repeated when clocks go back
// ambiguous). rsync's exit codes 23 and 24 (some files could not be read,
// or vanished during the listing) keep the entries that were listed: the
// others count as missing, and bad is told why.
func (r Rsync) List(ctx context.Context, fn func(Entry) error, bad func(error)) error {
	bin := r.Bin
	if bin == "" {
		bin = "rsync"
	}
	u := strings.TrimSuffix(r.URL, "/") + "/"
	cmd := exec.CommandContext(ctx, bin, "--list-only", "-r", "--no-motd", "--contimeout=10", u)
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", r, err)
	}
	perr := ParseRsyncList(out, time.UTC, fn, func(e *ListingError) { bad(e) })
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: listing did not finish in time: %w", r, ctx.Err())
	case perr != nil:
		return fmt.Errorf("%s: %w", r, perr)
	case werr != nil:
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		msg = truncate(msg) // rsync repeats a path too long in full
		var ee *exec.ExitError
		if errors.As(werr, &ee) && (ee.ExitCode() == rsyncPartial || ee.ExitCode() == rsyncVanished) {
			bad(fmt.Errorf("%w (rsync exit %d: %s)", ErrPartialListing, ee.ExitCode(), msg))
			return nil
		}
		if errors.As(werr, &ee) && msg != "" {
			return fmt.Errorf("%s: rsync exit %d: %s", r, ee.ExitCode(), msg)
		}
		return fmt.Errorf("%s: %w", r, werr)
	}
	return nil
}

// rsync's exit codes for a listing that is complete but for some files:
// some could not be read (an unreadable directory, a path too long), or
// vanished while it ran.
const (
	rsyncPartial  = 23
	rsyncVanished = 24
)

// ErrPartialListing is reported (to a Source's bad) when a listing
// finished without some files: those are judged missing.
var ErrPartialListing = errors.New("some files could not be listed; they count as missing")

// String is the URL without a password.
func (r Rsync) String() string {
	if i := strings.Index(r.URL, "@"); i > 0 {
		return "rsync://…@" + r.URL[i+1:]
	}
	return r.URL
}
