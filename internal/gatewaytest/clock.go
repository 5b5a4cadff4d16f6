package gatewaytest

import (
	"sync"
	"time"
)

// Clock is a gateway's clock, moved by the test. It stands still between
// moves. Moving it wakes the sweeper and the sender of every gateway
// started on it, so what fell due is handled at once rather than at the
// next sweep interval.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	next   int
	wakers map[int]func()
}

// NewClock returns a clock that reads now until moved.
func NewClock(now time.Time) *Clock { return &Clock{now: now, wakers: map[int]func(){}} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	wake := make([]func(), 0, len(c.wakers))
	for _, f := range c.wakers {
		wake = append(wake, f)
	}
	c.mu.Unlock()
	for _, f := range wake {
		f()
	}
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// onMove registers f to run after every move, until remove is called.
func (c *Clock) onMove(f func()) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	c.wakers[id] = f
	return func() {
		c.mu.Lock()
		delete(c.wakers, id)
		c.mu.Unlock()
	}
}
