// Package timeexpr reads the time expressions people and assistants write
// to bound a query: RFC 3339, a date, "now", an offset back from now
// ("15m", "-15m", "now-1h", "2h ago", "1d") or a time of day ("14:05").
//
// It sits below the readers of the store: the CLI's --since/--until and the
// MCP tools' start/end arguments both resolve their windows here, so the two
// accept the same forms and say the same things about them. A time of day
// names no date; callers pass the reference day (the newest data held) and
// are told, in Window.Day, that one was used, so they can say which.
package timeexpr
