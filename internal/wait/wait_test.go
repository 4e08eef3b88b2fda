package wait

import (
	"context"
	"testing"
	"time"
)

func TestWaitsEndWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep of an hour returned true on a cancelled context")
	}
	sem := make(chan struct{}, 1)
	sem <- struct{}{}
	if Acquire(ctx, sem) {
		t.Error("Acquire of a full semaphore returned true on a cancelled context")
	}
	done := make(chan struct{})
	go func() { Every(ctx, time.Hour, func() { t.Error("Every called fn") }); close(done) }()
	<-done
	if !Sleep(context.Background(), 0) || !Acquire(context.Background(), make(chan struct{}, 1)) {
		t.Error("a wait with room returned false")
	}
}

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	Every(ctx, time.Millisecond, func() {
		if n++; n == 3 {
			cancel()
		}
	})
	if n != 3 {
		t.Errorf("fn called %d times", n)
	}
}
