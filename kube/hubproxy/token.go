package hubproxy

import (
	"context"
	"sync"
	"time"
)

// tokenSource hands out a token, requesting a new one when the current
// one has lived four fifths of its life (and at least a minute before it
// expires), so that a request never leaves with a token about to lapse.
type tokenSource struct {
	now   func() time.Time
	fetch func(ctx context.Context) (token string, expires time.Time, err error)

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

func (s *tokenSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.renewAt) {
		return s.token, nil
	}
	tok, exp, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	life := exp.Sub(now)
	renew := now.Add(life * 4 / 5)
	if latest := exp.Add(-time.Minute); latest.Before(renew) {
		renew = latest
	}
	s.token, s.renewAt = tok, renew
	return tok, nil
}

// invalidate drops the token (the hub rejected it: the ServiceAccount may
// have been recreated), so the next request asks for a new one.
func (s *tokenSource) invalidate(tok string) {
	s.mu.Lock()
	if s.token == tok {
		s.token = ""
	}
	s.mu.Unlock()
}
