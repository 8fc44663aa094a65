package sms

import (
	"context"
	"sync"
)

// MemoryStore is an in-process SentLog and AckStore. It forgets everything
// on restart, so a worker restart may text someone twice: use FileStore or
// a JetStream KV backing outside tests.
type MemoryStore struct {
	mu sync.Mutex
	st storeState
}

// storeState is the content of a store (FileStore's file format too).
type storeState struct {
	Sent    map[string]SentRecord `json:"sent"`
	Pending map[string]Pending    `json:"pending"`
	Answers map[string]Answer     `json:"answers"`
}

func (s *storeState) init() {
	if s.Sent == nil {
		s.Sent = map[string]SentRecord{}
	}
	if s.Pending == nil {
		s.Pending = map[string]Pending{}
	}
	if s.Answers == nil {
		s.Answers = map[string]Answer{}
	}
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	m := &MemoryStore{}
	m.st.init()
	return m
}

func (m *MemoryStore) Get(_ context.Context, key SentKey) (SentRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.st.Sent[key.ID()]
	return r, ok, nil
}

func (m *MemoryStore) Put(_ context.Context, rec SentRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.Sent[rec.Key.ID()] = rec
	return nil
}

func (m *MemoryStore) Expect(_ context.Context, p Pending) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.expect(p)
	return nil
}

func (m *MemoryStore) Pending(_ context.Context, code string) (Pending, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.st.Pending[code]
	return p, ok, nil
}

func (m *MemoryStore) Record(_ context.Context, a Answer) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.record(a), nil
}

func (m *MemoryStore) Answer(_ context.Context, code string) (Answer, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.st.Answers[code]
	return a, ok, nil
}

// Sent lists every record (for tests and `runbook dev` displays).
func (m *MemoryStore) Sent() []SentRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SentRecord, 0, len(m.st.Sent))
	for _, r := range m.st.Sent {
		out = append(out, r)
	}
	return out
}

// expect keeps the first registration of a code: a retry registers the
// same code again and must not move its issue time.
func (s *storeState) expect(p Pending) {
	if _, ok := s.Pending[p.Code]; !ok {
		s.Pending[p.Code] = p
	}
}

func (s *storeState) record(a Answer) (duplicate bool) {
	if old, ok := s.Answers[a.Code]; ok && a.MessageSID != "" && old.MessageSID == a.MessageSID {
		return true
	}
	s.Answers[a.Code] = a
	return false
}
