package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// bufferedWriter batches log lines and writes them every interval (or when
// 64 KiB are waiting), so that the access log does not cost a system call
// per request, as nginx's access_log buffer= does. Close flushes and stops
// the flusher. It is safe for concurrent use.
type bufferedWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

func newBufferedWriter(w io.Writer, interval time.Duration) *bufferedWriter {
	b := &bufferedWriter{w: bufio.NewWriterSize(w, 64<<10), done: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.done:
				return
			case <-t.C:
				b.Flush()
			}
		}
	}()
	return b
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *bufferedWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.w.Flush() //nolint:errcheck // stderr is gone; nowhere left to report
}

// Close flushes and stops the background flusher.
func (b *bufferedWriter) Close() {
	close(b.done)
	b.wg.Wait()
	b.Flush()
}
