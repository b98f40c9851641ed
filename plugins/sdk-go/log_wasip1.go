//go:build wasip1

package sluice

import (
	"runtime"
	"unsafe"
)

//go:wasmimport sluice:plugin/log@0.1.0 log
func hostLog(level uint32, ptr unsafe.Pointer, length uint32)

// Log writes one line to the host's log, attributed to the plugin.
func Log(level Level, message string) {
	message = validUTF8(message)
	hostLog(uint32(level), unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
	runtime.KeepAlive(message)
}
