package jsonlog

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestAsyncWriterNeverBlocks writes 3 MB of lines to an output nobody
// reads: every Write returns, the lines past the buffer are dropped and
// counted, and once the output is read again the loss is reported once.
func TestAsyncWriterNeverBlocks(t *testing.T) {
	pr, pw := io.Pipe()
	w := NewWriter(pw, 10*time.Millisecond)
	w.OnRecover = func(n uint64) { fmt.Fprintf(w, "dropped %d\n", n) }
	line := strings.Repeat("x", 99) + "\n"
	const lines = 30000 // 3 MB: the buffer and a blocked write hold at most 2 MiB
	for range lines {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	dropped := w.Dropped()
	if dropped == 0 || dropped > uint64(lines-maxPending/len(line)) {
		t.Fatalf("dropped %d lines of %d; want those past %d bytes", dropped, lines, maxPending)
	}
	var out itest.Buffer
	go io.Copy(&out, pr) //nolint:errcheck // ends with the pipe
	itest.WaitFor(t, 10*time.Second, "the loss report", func() bool {
		return strings.Contains(out.String(), fmt.Sprintf("dropped %d\n", dropped))
	})
	if n := strings.Count(out.String(), "dropped "); n != 1 {
		t.Errorf("the loss was reported %d times; want once", n)
	}
	if kept := strings.Count(out.String(), line); uint64(kept)+dropped != lines {
		t.Errorf("%d lines written + %d dropped; want %d", kept, dropped, lines)
	}
	w.Close(time.Second)
	pw.Close()
}

// TestErrorLinesAtOnce: with an hour between regular writes, an error
// line still reaches the output at once, and Close writes the rest.
func TestErrorLinesAtOnce(t *testing.T) {
	var out itest.Buffer
	w := NewWriter(&out, time.Hour)
	log := NewLogger(w, nil).With("component", "test")
	log.Info("routine")
	log.Error("handler panic", "panic", "boom")
	itest.WaitFor(t, 10*time.Second, "the error line", func() bool {
		return strings.Contains(out.String(), `"msg":"handler panic"`)
	})
	log.Info("last words")
	w.Close(time.Second)
	if s := out.String(); !strings.Contains(s, `"msg":"routine"`) || !strings.Contains(s, `"msg":"last words"`) {
		t.Errorf("Close did not write the pending lines:\n%s", s)
	}
}

// TestCloseWithBlockedOutput: Close gives up on an output that never
// takes the lines, rather than hanging the shutdown.
func TestCloseWithBlockedOutput(t *testing.T) {
	_, pw := io.Pipe()
	w := NewWriter(pw, time.Millisecond)
	w.Write([]byte("stuck\n")) //nolint:errcheck // never fails
	if w.Flush(50 * time.Millisecond) {
		t.Errorf("Flush reported success on a blocked output")
	}
	w.Close(50 * time.Millisecond)
	pw.Close()
}

// TestBurstIsWritten: a burst of lines larger than the buffer, written
// no faster than the output takes them, is written whole, however long
// the interval: a buffer a quarter full wakes the writer. (With only the
// interval, an hour here, everything past the buffer was dropped.)
func TestBurstIsWritten(t *testing.T) {
	var out itest.Buffer
	w := NewWriter(&out, time.Hour)
	line := strings.Repeat("y", 199) + "\n"
	const chunk = 300 << 10 // past kickAt
	written := 0
	for written < 4*maxPending {
		before := written
		for written-before < chunk {
			w.Write([]byte(line)) //nolint:errcheck // never fails
			written += len(line)
		}
		itest.WaitFor(t, 10*time.Second, "the writer to take the lines before the last chunk", func() bool {
			return len(out.String()) >= before
		})
	}
	w.Close(time.Second)
	if d := w.Dropped(); d != 0 || len(out.String()) != written {
		t.Fatalf("dropped %d lines; %d of %d bytes written", d, len(out.String()), written)
	}
}
