package sluice

import "fmt"

// Level of a log line (WIT `log.level`); values in WIT order.
type Level uint8

const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// Logf writes one formatted line to the host's log, attributed to the plugin.
// The host caps lines per call; never log secret material.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}
