package ingest

import (
	"sync"
	"time"
)

// ttlSet remembers ids for ttl. It is the recently-closed cache: ids of
// incidents Temporal reported ended. ttl < 0 disables it.
type ttlSet struct {
	ttl  time.Duration
	soft int // prune expired entries once the map reaches this size
	now  func() time.Time

	mu sync.Mutex
	at map[string]time.Time
}

func newTTLSet(ttl time.Duration, soft int, now func() time.Time) *ttlSet {
	return &ttlSet{ttl: ttl, soft: soft, now: now, at: map[string]time.Time{}}
}

func (s *ttlSet) has(id string) bool {
	if s.ttl < 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.at[id]
	if ok && s.now().Sub(at) >= s.ttl {
		delete(s.at, id)
		return false
	}
	return ok
}

func (s *ttlSet) add(id string) {
	if s.ttl < 0 {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Bound the map: drop what expired once it grows.
	if len(s.at) >= s.soft {
		for k, at := range s.at {
			if now.Sub(at) >= s.ttl {
				delete(s.at, k)
			}
		}
	}
	s.at[id] = now
}

// idSet is a bounded set that forgets its oldest ids first. It holds the
// incident ids this consumer knows exist (or are handed to a fleet).
// Forgetting one is harmless: its next event takes the path of a new id,
// whose start is idempotent.
type idSet struct {
	mu      sync.Mutex
	members map[string]struct{}
	ring    []string
	next    int
}

func newIDSet(capacity int) *idSet {
	return &idSet{members: make(map[string]struct{}, min(capacity, 1024)), ring: make([]string, capacity)}
}

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.members[id]
	return ok
}

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.members[id]; ok {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.members, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.members[id] = struct{}{}
}
