//go:build !wasip1

package sluice

import (
	"fmt"
	"os"
)

// Log writes one line to standard error: outside the host (native `go test`
// of plugin logic) there is no host log.
func Log(level Level, message string) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", [...]string{"trace", "debug", "info", "warn", "error"}[level], message)
}
