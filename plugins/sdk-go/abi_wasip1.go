//go:build wasip1

package sluice

// The canonical ABI of the component model, by hand, for the exports of the
// `policy` and `renderer` worlds (sizes and offsets from wit/types.wit and
// wit/worlds.wit; every record there has alignment 4). Arguments arrive
// flat (each request flattens to 8 i32s, below MAX_FLAT_PARAMS = 16) in
// memory the host obtained from cabi_realloc; the guest owns that memory
// from the call on and frees it after copying. Results flatten to more than
// MAX_FLAT_RESULTS = 1 value, so each export returns a pointer to a return
// area; the area and what it points at stay alive until the host calls the
// export's cabi_post_* function.

import (
	"fmt"
	"runtime/debug"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The collector is off while the host writes a request through cabi_realloc:
// a collection starting there reads the clock through WASI, and the component
// model forbids calling out before the export is entered (the host traps with
// "cannot leave component instance" on a request of thousands of manifests).
// Each export turns it on once the request is lifted; every call runs in a
// fresh instance, so this holds for each request.
func init() { debug.SetGCPercent(-1) }

// collectorOn lets the collector run again, inside an export.
func collectorOn() { debug.SetGCPercent(100) }

// Memory handed out by cabi_realloc, keyed by address: Go's collector never
// moves objects, so keeping a reference here keeps the address valid.
var allocations = map[uint32][]uint64{}

// Values the last export's result points at, kept until its post-return.
var lent []any

func addr(p unsafe.Pointer) uint32 { return uint32(uintptr(p)) }

func ptr(a uint32) unsafe.Pointer { return unsafe.Add(nil, a) }

// cabi_realloc allocates (old == 0) or resizes memory for the host to write
// arguments into. Buffers are []uint64, so always 8-aligned; larger
// alignments are served by over-allocating.
//
//go:wasmexport cabi_realloc
func cabiRealloc(old, oldSize, align, newSize uint32) uint32 {
	if inAdapterArena(old) {
		panic("sluice: cabi_realloc called on the WASI adapter's memory")
	}
	words := (newSize + 7) / 8
	if words == 0 {
		words = 1
	}
	if align > 8 {
		words += align / 8
	}
	buf := make([]uint64, words)
	p := addr(unsafe.Pointer(&buf[0]))
	if align > 8 {
		p = (p + align - 1) &^ (align - 1)
	}
	allocations[p] = buf
	if old != 0 {
		copy(unsafe.Slice((*byte)(ptr(p)), newSize), unsafe.Slice((*byte)(ptr(old)), min(oldSize, newSize)))
		delete(allocations, old)
	}
	return p
}

func free(a uint32) { delete(allocations, a) }

func load8(a uint32) uint8   { return *(*uint8)(ptr(a)) }
func load32(a uint32) uint32 { return *(*uint32)(ptr(a)) }

func store8(a uint32, v uint8)   { *(*uint8)(ptr(a)) = v }
func store32(a uint32, v uint32) { *(*uint32)(ptr(a)) = v }

// liftString copies a string argument out of linear memory and frees it.
func liftString(p, n uint32) string {
	if n == 0 {
		free(p)
		return ""
	}
	s := string(unsafe.Slice((*byte)(ptr(p)), n))
	free(p)
	return s
}

// liftLocation reads a source-location (16 bytes: file, line, column).
func liftLocation(a uint32) *SourceLocation {
	return &SourceLocation{File: liftString(load32(a), load32(a+4)), Line: load32(a + 8), Column: load32(a + 12)}
}

// liftManifests reads a list<manifest>: 28 bytes each, json at 0,
// option<source-location> at 8 (discriminant byte, payload at 12).
func liftManifests(p, n uint32) []Manifest {
	out := make([]Manifest, n)
	for i := range n {
		a := p + i*28
		out[i].JSON = liftString(load32(a), load32(a+4))
		if load8(a+8) != 0 {
			out[i].Origin = liftLocation(a + 12)
		}
	}
	free(p)
	return out
}

// lend returns a zeroed 8-aligned buffer that lives until the post-return.
func lend(size uint32) uint32 {
	buf := make([]uint64, max((size+7)/8, 1))
	lent = append(lent, buf)
	return addr(unsafe.Pointer(&buf[0]))
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// lowerString stores (pointer, length) of s at a; the bytes stay in the Go
// string itself, kept alive until the post-return.
func lowerString(a uint32, s string) {
	s = validUTF8(s)
	if s != "" {
		lent = append(lent, s)
		store32(a, addr(unsafe.Pointer(unsafe.StringData(s))))
	}
	store32(a+4, uint32(len(s)))
}

// lowerOptString stores option<string> (12 bytes); "" is none.
func lowerOptString(a uint32, s string) {
	if s != "" {
		store8(a, 1)
		lowerString(a+4, s)
	}
}

// lowerOptLocation stores option<source-location> (20 bytes).
func lowerOptLocation(a uint32, loc *SourceLocation) {
	if loc != nil {
		store8(a, 1)
		lowerString(a+4, loc.File)
		store32(a+12, loc.Line)
		store32(a+16, loc.Column)
	}
}

// lowerList allocates n elements of size bytes, stores (pointer, n) at a and
// calls each with every element's address.
func lowerList(a, n, size uint32, each func(i int, elem uint32)) {
	if n == 0 {
		return
	}
	base := lend(n * size)
	for i := range n {
		each(int(i), base+i*size)
	}
	store32(a, base)
	store32(a+4, n)
}

// lowerDiagnostics stores list<diagnostic>; a diagnostic is 92 bytes:
// severity 0, message 4, option<resource-ref> 12 (payload at 16, four
// strings), option<string> field-path 48, option<source-location> 60,
// option<string> code 80.
func lowerDiagnostics(a uint32, ds []Diagnostic) {
	lowerList(a, uint32(len(ds)), 92, func(i int, d uint32) {
		diag := ds[i]
		store8(d, uint8(diag.Severity))
		lowerString(d+4, diag.Message)
		if r := diag.Resource; r != nil {
			store8(d+12, 1)
			lowerString(d+16, r.APIVersion)
			lowerString(d+24, r.Kind)
			lowerString(d+32, r.Namespace)
			lowerString(d+40, r.Name)
		}
		lowerOptString(d+48, diag.FieldPath)
		lowerOptLocation(d+60, diag.Location)
		lowerOptString(d+80, diag.Code)
	})
}

// lowerManifests stores list<manifest> (28 bytes each, see liftManifests).
func lowerManifests(a uint32, ms []Manifest) {
	lowerList(a, uint32(len(ms)), 28, func(i int, m uint32) {
		lowerString(m, ms[i].JSON)
		lowerOptLocation(m+8, ms[i].Origin)
	})
}

// checkDiagnostics turns values outside the WIT enums (which the host would
// trap on) into a failure the plugin's author can act on.
func checkDiagnostics(ds []Diagnostic) []Diagnostic {
	for _, d := range ds {
		if d.Severity > SeverityInfo {
			return []Diagnostic{Error("invalid-result", fmt.Sprintf(
				"plugin returned a diagnostic with severity %d (%q); use SeverityError, SeverityWarning or SeverityInfo",
				d.Severity, d.Message))}
		}
	}
	return nil
}

// checkFailure is the failure itself, or why it cannot be sent.
func checkFailure(failure []Diagnostic) []Diagnostic {
	if bad := checkDiagnostics(failure); bad != nil {
		return bad
	}
	return failure
}

// call runs the plugin's function, turning a panic into a failure (the
// stack goes to the host log) instead of a trap without explanation.
func call(f func() []Diagnostic) (failure []Diagnostic) {
	defer func() {
		if r := recover(); r != nil {
			Log(LevelError, fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
			failure = []Diagnostic{Error("panic", fmt.Sprintf("plugin panicked: %v (the stack is in the host log)", r))}
		}
	}()
	return f()
}

func notRegistered(world string) []Diagnostic {
	return []Diagnostic{Error("wrong-world", fmt.Sprintf(
		"this plugin implements no %s; call sluice.Register%s%s from an init function", world,
		strings.ToUpper(world[:1]), world[1:]))}
}

// registered is the plugin's metadata, config schema and kind.
func registered() (Metadata, func() string, Kind) {
	switch {
	case policy != nil:
		return policy.Metadata(), policy.ConfigSchema, KindPolicy
	case renderer != nil:
		return renderer.Metadata(), renderer.ConfigSchema, KindRenderer
	}
	msg := "sluice: no plugin registered; call sluice.RegisterPolicy or sluice.RegisterRenderer from an init function"
	Log(LevelError, msg)
	panic(msg)
}

// metadata: func() -> plugin-metadata (28 bytes: name 0, version 8, kind 16,
// description 20).
//
//go:wasmexport metadata
func exportMetadata() uint32 {
	md, _, kind := registered()
	area := lend(28)
	lowerString(area, md.Name)
	lowerString(area+8, md.Version)
	store8(area+16, uint8(kind))
	lowerString(area+20, md.Description)
	return area
}

//go:wasmexport cabi_post_metadata
func postMetadata(uint32) { lent = nil }

// config-schema: func() -> string.
//
//go:wasmexport config-schema
func exportConfigSchema() uint32 {
	_, schema, _ := registered()
	area := lend(8)
	lowerString(area, schema())
	return area
}

//go:wasmexport cabi_post_config-schema
func postConfigSchema(uint32) { lent = nil }

// evaluate: func(request: evaluate-request) -> result<evaluation, failure>.
// The request flattens to artifact (url, revision), manifests, config. The
// result (28 bytes) has its discriminant at 0 and the payload at 4: an
// evaluation (verdict 4, diagnostics 8, option<list<manifest>> 16 with its
// list at 20) or a list<diagnostic>.
//
//go:wasmexport evaluate
func exportEvaluate(urlPtr, urlLen, revPtr, revLen, manPtr, manLen, cfgPtr, cfgLen uint32) uint32 {
	req := EvaluateRequest{
		Artifact:  ArtifactRef{URL: liftString(urlPtr, urlLen), Revision: liftString(revPtr, revLen)},
		Manifests: liftManifests(manPtr, manLen),
		Config:    liftString(cfgPtr, cfgLen),
	}
	collectorOn()
	var ev Evaluation
	failure := call(func() []Diagnostic {
		if policy == nil {
			return notRegistered("policy")
		}
		var failure []Diagnostic
		ev, failure = policy.Evaluate(req)
		if len(failure) > 0 {
			return checkFailure(failure)
		}
		if ev.Verdict > VerdictDeny {
			return []Diagnostic{Error("invalid-result", fmt.Sprintf(
				"plugin returned verdict %d; use VerdictAllow, VerdictWarn or VerdictDeny", ev.Verdict))}
		}
		return checkDiagnostics(ev.Diagnostics)
	})
	area := lend(28)
	if len(failure) > 0 {
		store8(area, 1)
		lowerDiagnostics(area+4, failure)
		return area
	}
	store8(area+4, uint8(ev.Verdict))
	lowerDiagnostics(area+8, ev.Diagnostics)
	if ev.Mutated != nil {
		store8(area+16, 1)
		lowerManifests(area+20, ev.Mutated)
	}
	return area
}

//go:wasmexport cabi_post_evaluate
func postEvaluate(uint32) { lent = nil }

// render: func(request: render-request) -> result<render-result, failure>.
// The request flattens to artifact (url, revision), path, config. The result
// (20 bytes) has its discriminant at 0 and the payload at 4: a render-result
// (manifests 4, diagnostics 12) or a list<diagnostic>.
//
//go:wasmexport render
func exportRender(urlPtr, urlLen, revPtr, revLen, pathPtr, pathLen, cfgPtr, cfgLen uint32) uint32 {
	req := RenderRequest{
		Artifact: ArtifactRef{URL: liftString(urlPtr, urlLen), Revision: liftString(revPtr, revLen)},
		Path:     liftString(pathPtr, pathLen),
		Config:   liftString(cfgPtr, cfgLen),
	}
	collectorOn()
	var res RenderResult
	failure := call(func() []Diagnostic {
		if renderer == nil {
			return notRegistered("renderer")
		}
		var failure []Diagnostic
		res, failure = renderer.Render(req)
		if len(failure) > 0 {
			return checkFailure(failure)
		}
		return checkDiagnostics(res.Diagnostics)
	})
	area := lend(20)
	if len(failure) > 0 {
		store8(area, 1)
		lowerDiagnostics(area+4, failure)
		return area
	}
	lowerManifests(area+4, res.Manifests)
	lowerDiagnostics(area+12, res.Diagnostics)
	return area
}

//go:wasmexport cabi_post_render
func postRender(uint32) { lent = nil }
