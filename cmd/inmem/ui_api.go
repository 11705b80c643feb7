package main

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/inmem-db/inmem"
)

// uiAPI answers the inspector page's reads. Every answer is one JSON
// shape of the MCP tools' (runOut, stepOut, entryOut, ...), read from the
// database the source hands out for the request.
type uiAPI struct {
	src uiSource
	dir string

	// steps caches the last run's step list: a slider move asks for one
	// step of a run of tens of thousands, and listing them walks the
	// run's writes.
	stepsMu sync.Mutex
	steps   stepsCache
}

type stepsCache struct {
	db      *inmem.DB
	run     inmem.RunID
	version uint64
	steps   []inmem.Step
}

// Bounds of a page of the API.
const (
	uiRunsDefault  = 50
	uiRunsMax      = 500
	uiStepsDefault = 500
	uiStepsMax     = 5000
	uiRecentEvents = 100
)

type (
	uiInfoOut struct {
		Dir      string `json:"dir"`
		ReadOnly bool   `json:"read_only"`
		Version  uint64 `json:"version"`
	}
	uiRunsOut struct {
		Runs []runOut `json:"runs"`
		Next string   `json:"next"`
	}
	uiRunOut struct {
		Run      runOut   `json:"run"`
		Children []runOut `json:"children"`
		Forks    []runOut `json:"forks"`
	}
	uiStepsOut struct {
		Steps []stepOut `json:"steps"`
		Total int       `json:"total"`
	}
	uiEventsOut struct {
		Count    uint64     `json:"count"`
		Verified bool       `json:"verified"`
		FirstBad int64      `json:"first_bad"`
		Recent   []eventOut `json:"recent"`
	}
	uiSpansCount struct {
		Count int `json:"count"`
	}
	uiCollectionCount struct {
		Collection string `json:"collection"`
		Count      int    `json:"count"`
	}
	// uiCellOut is a cell with the state machine declared for it.
	uiCellOut struct {
		cellOut
		Machine *uiMachineOut `json:"machine,omitempty"`
	}
	uiMachineOut struct {
		Initial string              `json:"initial"`
		Allow   map[string][]string `json:"allow"`
	}
	uiAsOfOut struct {
		Step    int                 `json:"step"`
		Time    string              `json:"time"`
		KV      []entryOut          `json:"kv"`
		State   []uiCellOut         `json:"state"`
		Events  uiEventsOut         `json:"events"`
		Spans   uiSpansCount        `json:"spans"`
		Vectors []uiCollectionCount `json:"vectors"`
	}
	uiSpansOut struct {
		Spans []spanOut `json:"spans"`
	}
	uiDiffOut struct {
		A    runOut  `json:"a"`
		B    runOut  `json:"b"`
		Diff diffOut `json:"diff"`
	}
	uiCollectionOut struct {
		Name   string `json:"name"`
		Count  int    `json:"count"`
		Dim    int    `json:"dim"`
		Metric string `json:"metric"`
	}
	uiVectorRef struct {
		Collection string `json:"collection"`
		Key        string `json:"key"`
	}
	uiVectorsOut struct {
		Collections []uiCollectionOut `json:"collections"`
		Written     []uiVectorRef     `json:"written"`
	}
	uiSharedOut struct {
		Namespace   nsArg             `json:"namespace"`
		KVCount     int               `json:"kv_count"`
		KV          []entryOut        `json:"kv"`
		Collections []uiCollectionOut `json:"collections"`
	}
)

// uiSharedKV caps the shared scope's KV entries one answer lists.
const uiSharedKV = 200

// serve routes an /api/ request.
func (a *uiAPI) serve(w http.ResponseWriter, r *http.Request) {
	db, release := a.src.acquire()
	defer release()
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/"), "/"), "/")
	q := r.URL.Query()
	var v any
	var err error
	switch {
	case len(parts) == 1 && parts[0] == "info":
		v = uiInfoOut{Dir: a.dir, ReadOnly: a.src.readOnly(), Version: db.Stats().Version}
	case len(parts) == 1 && parts[0] == "runs":
		v, err = uiRuns(db, q.Get("namespace"), q.Get("status"), q.Get("tag"), q.Get("order"), q.Get("after"), q.Get("limit"))
	case len(parts) == 1 && parts[0] == "diff":
		v, err = uiDiff(db, q.Get("a"), q.Get("b"))
	case len(parts) == 1 && parts[0] == "shared":
		v, err = uiShared(db, q.Get("namespace"))
	case len(parts) >= 2 && parts[0] == "runs":
		v, err = a.runAPI(db, parts[1], parts[2:], q.Get)
	default:
		err = fmt.Errorf("no such endpoint %s: %w", r.URL.Path, inmem.ErrNotFound)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, v)
}

// runAPI answers /api/runs/ID[/...].
func (a *uiAPI) runAPI(db *inmem.DB, idText string, rest []string, arg func(string) string) (any, error) {
	id, err := parseRun("run", idText)
	if err != nil {
		return nil, err
	}
	run, err := db.Run(id)
	if err != nil {
		return nil, err
	}
	switch {
	case len(rest) == 0:
		return uiRun(db, run)
	case len(rest) == 1 && rest[0] == "steps":
		from, err := intArg(arg("from"), 1, 1, 1<<62)
		if err != nil {
			return nil, err
		}
		limit, err := intArg(arg("limit"), uiStepsDefault, 1, uiStepsMax)
		if err != nil {
			return nil, err
		}
		steps, err := a.runSteps(db, run)
		if err != nil {
			return nil, err
		}
		lo := min(from-1, len(steps))
		return uiStepsOut{Steps: mapSlice(steps[lo:min(lo+limit, len(steps))], stepOf), Total: len(steps)}, nil
	case len(rest) == 2 && rest[0] == "asof":
		step, err := intArg(rest[1], 0, 0, 1<<62)
		if err != nil {
			return nil, err
		}
		return uiAsOf(run, step)
	case len(rest) == 1 && rest[0] == "spans":
		view, err := stepView(run, arg("step"))
		if err != nil {
			return nil, err
		}
		spans, err := view.Traces().Query(inmem.SpanQuery{})
		if err != nil {
			return nil, err
		}
		// By ID, which is recording order (Query gives start order): a
		// parent is recorded before its children.
		slices.SortFunc(spans, func(a, b inmem.Span) int { return cmp.Compare(a.ID, b.ID) })
		return uiSpansOut{Spans: mapSlice(spans, spanOf)}, nil
	case len(rest) == 1 && rest[0] == "replay":
		rep, err := db.Replay(id)
		if err != nil {
			return nil, err
		}
		return replayOf(rep), nil
	case len(rest) == 1 && rest[0] == "vectors":
		return a.uiVectors(db, run, arg("step"))
	}
	return nil, fmt.Errorf("no such endpoint under /api/runs/%s: %w", idText, inmem.ErrNotFound)
}

// uiRuns is a page of the runs matching the filters, the newest first
// (order "newest", the default) or the oldest ("oldest"), after the run
// after in that order.
func uiRuns(db *inmem.DB, ns, status, tag, order, after, limitText string) (uiRunsOut, error) {
	limit, err := intArg(limitText, uiRunsDefault, 1, uiRunsMax)
	if err != nil {
		return uiRunsOut{}, err
	}
	list := db.Runs().ListBefore
	switch order {
	case "", "newest":
	case "oldest":
		list = db.Runs().ListAfter
	default:
		return uiRunsOut{}, fmt.Errorf("order %q: want newest or oldest: %w", order, inmem.ErrInvalidArgument)
	}
	q := inmem.RunQuery{Tag: tag, Limit: limit + 1}
	if q.Namespace, err = parseNamespace(ns); err != nil {
		return uiRunsOut{}, fmt.Errorf("%w: %w", err, inmem.ErrInvalidArgument)
	}
	if status != "" {
		if q.Status, err = parseStatus(status); err != nil {
			return uiRunsOut{}, err
		}
	}
	var cursor inmem.RunID
	if after != "" {
		if cursor, err = parseRun("after", after); err != nil {
			return uiRunsOut{}, err
		}
	}
	runs, err := list(q, cursor)
	if err != nil {
		return uiRunsOut{}, err
	}
	out := uiRunsOut{}
	if len(runs) > limit {
		runs = runs[:limit]
		out.Next = runs[limit-1].ID.String()
	}
	out.Runs = mapSlice(runs, runOf)
	return out, nil
}

// uiRun is a run with its lineage: the runs it started and its forks.
func uiRun(db *inmem.DB, run *inmem.Run) (uiRunOut, error) {
	info, err := run.Info()
	if err != nil {
		return uiRunOut{}, err
	}
	kids, err := db.Runs().Children(info.ID)
	if err != nil {
		return uiRunOut{}, err
	}
	out := uiRunOut{Run: runOf(info), Children: []runOut{}, Forks: []runOut{}}
	for _, k := range kids {
		if k.ForkOf == info.ID {
			out.Forks = append(out.Forks, runOf(k))
		} else {
			out.Children = append(out.Children, runOf(k))
		}
	}
	return out, nil
}

// runSteps lists run's steps, from the cache while the database has not
// changed.
func (a *uiAPI) runSteps(db *inmem.DB, run *inmem.Run) ([]inmem.Step, error) {
	v := db.Stats().Version
	a.stepsMu.Lock()
	c := a.steps
	a.stepsMu.Unlock()
	if c.db == db && c.run == run.ID() && c.version == v {
		return c.steps, nil
	}
	steps, err := run.Steps()
	if err != nil {
		return nil, err
	}
	a.stepsMu.Lock()
	a.steps = stepsCache{db: db, run: run.ID(), version: v, steps: steps}
	a.stepsMu.Unlock()
	return steps, nil
}

// uiAsOf is what run held right after step, as AsOf reads it.
func uiAsOf(run *inmem.Run, step int) (uiAsOfOut, error) {
	view, err := run.AsOf(step)
	if err != nil {
		return uiAsOfOut{}, err
	}
	out := uiAsOfOut{Step: step, Time: timeString(view.Time()), Events: uiEventsOut{FirstBad: -1}}
	err = view.Read(func(tx *inmem.Tx) error {
		kv, err := tx.KV().List("")
		if err != nil {
			return err
		}
		cells, err := tx.State().List()
		if err != nil {
			return err
		}
		n, err := tx.Events().Len()
		if err != nil {
			return err
		}
		rep, err := tx.Events().Verify()
		if err != nil {
			return err
		}
		recent, err := tx.Events().Range(n-min(n, uiRecentEvents), n)
		if err != nil {
			return err
		}
		spans, err := tx.Traces().Query(inmem.SpanQuery{})
		if err != nil {
			return err
		}
		colls, err := tx.Vectors().Collections()
		if err != nil {
			return err
		}
		out.KV = mapSlice(kv, entryOf)
		out.State = make([]uiCellOut, 0, len(cells))
		for _, c := range cells {
			cell := uiCellOut{cellOut: cellOf(c)}
			m, ok, err := tx.State().Machine(c.Name)
			if err != nil {
				return err
			}
			if ok {
				cell.Machine = &uiMachineOut{Initial: m.Initial, Allow: m.Allow}
			}
			out.State = append(out.State, cell)
		}
		out.Events.Count, out.Events.Verified, out.Events.Recent = n, rep.OK, mapSlice(recent, eventOf)
		if !rep.OK {
			out.Events.FirstBad = int64(rep.FirstBad)
		}
		out.Spans.Count = len(spans)
		out.Vectors = make([]uiCollectionCount, 0, len(colls))
		for _, c := range colls {
			n, err := tx.Vectors().Len(c.Name)
			if err != nil {
				return err
			}
			out.Vectors = append(out.Vectors, uiCollectionCount{Collection: c.Name, Count: n})
		}
		return nil
	})
	return out, err
}

// uiVectors lists run's collections as of a step, and the vectors that
// step wrote.
func (a *uiAPI) uiVectors(db *inmem.DB, run *inmem.Run, stepText string) (uiVectorsOut, error) {
	view, err := stepView(run, stepText)
	if err != nil {
		return uiVectorsOut{}, err
	}
	out := uiVectorsOut{Collections: []uiCollectionOut{}, Written: []uiVectorRef{}}
	vs := view.Vectors()
	colls, err := vs.Collections()
	if err != nil {
		return out, err
	}
	if out.Collections, err = collectionsOf(vs); err != nil {
		return out, err
	}
	if view.Step() == 0 {
		return out, nil
	}
	steps, err := a.runSteps(db, run)
	if err != nil {
		return out, err
	}
	for _, key := range steps[view.Step()-1].Writes.Vectors {
		ref := uiVectorRef{Key: key}
		// A step's writes name a vector by key (or a collection by its
		// name, when it made one); the collection is the one holding the
		// key then (none for a vector it deleted).
		for _, c := range colls {
			if _, err := vs.Get(c.Name, key); err == nil {
				ref.Collection = c.Name
				break
			}
		}
		if ref.Collection == "" && slices.ContainsFunc(colls, func(c inmem.CollectionInfo) bool { return c.Name == key }) {
			continue // the collection's own configuration
		}
		out.Written = append(out.Written, ref)
	}
	return out, nil
}

// collectionsOf lists vs's collections with their sizes.
func collectionsOf(vs *inmem.Vectors) ([]uiCollectionOut, error) {
	colls, err := vs.Collections()
	if err != nil {
		return nil, err
	}
	out := make([]uiCollectionOut, 0, len(colls))
	for _, c := range colls {
		n, err := vs.Len(c.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, uiCollectionOut{Name: c.Name, Count: n, Dim: c.Config.Dim, Metric: c.Config.Metric.String()})
	}
	return out, nil
}

// uiShared is a namespace's shared scope: its KV entries (the first
// uiSharedKV) and its vector collections. It keeps no steps.
func uiShared(db *inmem.DB, nsText string) (uiSharedOut, error) {
	ns, err := parseNamespace(nsText)
	if err != nil {
		return uiSharedOut{}, fmt.Errorf("%w: %w", err, inmem.ErrInvalidArgument)
	}
	out := uiSharedOut{Namespace: nsOf(ns), KV: []entryOut{}}
	err = db.Shared(ns).View(func(tx *inmem.Tx) error {
		kv, err := tx.KV().List("")
		if err != nil {
			return err
		}
		out.KVCount = len(kv)
		out.KV = mapSlice(kv[:min(len(kv), uiSharedKV)], entryOf)
		out.Collections, err = collectionsOf(tx.Vectors())
		return err
	})
	return out, err
}

func uiDiff(db *inmem.DB, aText, bText string) (uiDiffOut, error) {
	a, err := parseRun("a", aText)
	if err != nil {
		return uiDiffOut{}, err
	}
	b, err := parseRun("b", bText)
	if err != nil {
		return uiDiffOut{}, err
	}
	ai, err := db.Runs().Get(a)
	if err != nil {
		return uiDiffOut{}, err
	}
	bi, err := db.Runs().Get(b)
	if err != nil {
		return uiDiffOut{}, err
	}
	d, err := db.Diff(a, b)
	if err != nil {
		return uiDiffOut{}, err
	}
	return uiDiffOut{A: runOf(ai), B: runOf(bi), Diff: diffOf(d)}, nil
}

// stepView is run as of the step in text, or as of its last step when
// text is empty.
func stepView(run *inmem.Run, text string) (*inmem.View, error) {
	info, err := run.Info()
	if err != nil {
		return nil, err
	}
	step, err := intArg(text, info.Steps, 0, 1<<62)
	if err != nil {
		return nil, err
	}
	return run.AsOf(step)
}

// intArg reads a decimal argument within [lo, hi], def when empty; hi
// caps a larger one.
func intArg(text string, def, lo, hi int) (int, error) {
	if text == "" {
		return def, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < lo {
		return 0, fmt.Errorf("%q: want a whole number of at least %d: %w", text, lo, inmem.ErrInvalidArgument)
	}
	return min(n, hi), nil
}
