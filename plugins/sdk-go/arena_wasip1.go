//go:build wasip1

package sluice

import "unsafe"

// adapterArena is memory for the WASI preview1 adapter that turns the Go
// module into a component. The adapter allocates its stack and state on the
// first WASI call, which the Go runtime makes inside _initialize, before any
// Go function can run; it cannot use cabi_realloc (a Go function) then, nor
// memory.grow (Go's allocator assumes it owns every page above its data).
// So `sluice plugin build` finds this array by its marker in the data section
// and adds a small allocator over it, exported as cabi_realloc_adapter, which
// wit-component hands to the adapter. Only the marker is non-zero, so the
// rest costs no bytes in the module (the linker skips zero runs).
var adapterArena = [512 << 10]byte{
	// The marker names the array's size in KiB (4 digits), so the build reads
	// it from the module instead of assuming it.
	0x7f, 's', 'l', 'u', 'i', 'c', 'e', '-', 'g', 'o', '-', 'a', 'd', 'a', 'p', 't',
	'e', 'r', '-', 'a', 'r', 'e', 'n', 'a', '-', 'k', 'i', 'b', ':', '0', '5', '1', '2', 0x7f,
}

// inAdapterArena reports whether a lies in the adapter's memory, which Go
// must never hand out or free (referencing the array also keeps the linker
// from dropping it).
func inAdapterArena(a uint32) bool {
	start := addr(unsafe.Pointer(&adapterArena[0]))
	return a >= start && a < start+uint32(len(adapterArena))
}
