package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger routes badger's printf-style logging into slog. Badger is
// chatty at info level (compactions, table flushes), so only warnings and
// errors come through; the level is also set on badger's side so the
// formatting is skipped.
type badgerLogger struct {
	log *slog.Logger
}

func (l badgerLogger) emit(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
}

func (l badgerLogger) Errorf(f string, a ...any)   { l.emit(slog.LevelError, f, a...) }
func (l badgerLogger) Warningf(f string, a ...any) { l.emit(slog.LevelWarn, f, a...) }
func (l badgerLogger) Infof(string, ...any)        {}
func (l badgerLogger) Debugf(string, ...any)       {}
