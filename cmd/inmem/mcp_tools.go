package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Caps on what one call returns, so that a large run cannot flood a
// model's context; the results say when there is more.
const (
	defaultList = 100
	maxList     = 1000
)

// Inputs and outputs of the run tools.
type (
	runsBeginIn struct {
		Name      string            `json:"name,omitempty" jsonschema:"a short human name for the run"`
		Namespace nsArg             `json:"namespace,omitzero" jsonschema:"tenant, app and agent the run belongs to; omitted fields are the default"`
		Parent    string            `json:"parent,omitempty" jsonschema:"the ID of the run that started this one (a sub-agent's parent)"`
		Tags      []string          `json:"tags,omitempty"`
		Meta      map[string]string `json:"meta,omitempty" jsonschema:"free-form string metadata such as the model name"`
	}
	runsEndIn struct {
		Run    string `json:"run" jsonschema:"the run's ID"`
		Status string `json:"status,omitempty" jsonschema:"completed (the default), failed or cancelled"`
		Reason string `json:"reason,omitempty" jsonschema:"why it failed or was cancelled"`
	}
	runsListIn struct {
		Namespace *nsArg `json:"namespace,omitempty" jsonschema:"only runs of this namespace"`
		Status    string `json:"status,omitempty" jsonschema:"only runs in this status: active, paused, completed, failed, cancelled or archived"`
		Tag       string `json:"tag,omitempty" jsonschema:"only runs with this tag"`
		Parent    string `json:"parent,omitempty" jsonschema:"only children of this run"`
		Limit     int    `json:"limit,omitempty" jsonschema:"at most this many runs, oldest first (default 100, at most 1000)"`
	}
	runsListOut struct {
		Runs []runOut `json:"runs"`
		More bool     `json:"more,omitempty" jsonschema:"true when more runs match than were returned"`
	}
	runsShowIn struct {
		Run string `json:"run" jsonschema:"the run's ID"`
	}
	runsShowOut struct {
		Run    runOut     `json:"run"`
		Events []eventOut `json:"events"`
		State  []cellOut  `json:"state"`
		KV     []entryOut `json:"kv"`
		Spans  []spanOut  `json:"spans"`
	}
)

func (s *mcpServer) addRunTools(srv *mcp.Server) {
	addTool(srv, tool{name: "runs_begin", title: "Begin a run", additive: true,
		desc: "Begin a new agent run and return it; pass its id as \"run\" to the other tools."},
		func(_ context.Context, in runsBeginIn) (runOut, error) {
			opts := []inmem.RunOption{inmem.Name(in.Name), inmem.InNamespace(in.Namespace.namespace()), inmem.Tags(in.Tags...), inmem.Meta(in.Meta)}
			if in.Parent != "" {
				p, err := parseRun("parent", in.Parent)
				if err != nil {
					return runOut{}, err
				}
				opts = append(opts, inmem.Parent(p))
			}
			run, err := s.db.BeginRun(opts...)
			if err != nil {
				return runOut{}, err
			}
			info, err := run.Info()
			return runOf(info), err
		})

	addTool(srv, tool{name: "runs_end", title: "End a run",
		desc: "End a run as completed, failed or cancelled; later writes to it fail."},
		func(_ context.Context, in runsEndIn) (runOut, error) {
			run, err := s.runByID("run", in.Run)
			if err != nil {
				return runOut{}, err
			}
			st, err := parseEndStatus(in.Status)
			if err != nil {
				return runOut{}, err
			}
			if err := run.End(st, in.Reason); err != nil {
				return runOut{}, err
			}
			info, err := run.Info()
			return runOf(info), err
		})

	addTool(srv, tool{name: "runs_list", title: "List runs", readOnly: true,
		desc: "List runs, oldest first, archived ones included, optionally only those of a namespace, status (active, paused, completed, failed, cancelled or archived), tag or parent."},
		func(_ context.Context, in runsListIn) (runsListOut, error) {
			limit, err := limitOr(in.Limit, defaultList, maxList)
			if err != nil {
				return runsListOut{}, err
			}
			q := inmem.RunQuery{Tag: in.Tag, Limit: limit + 1}
			if in.Namespace != nil {
				q.Namespace = in.Namespace.namespace()
			}
			if in.Status != "" {
				if q.Status, err = parseStatus(in.Status); err != nil {
					return runsListOut{}, err
				}
			}
			if in.Parent != "" {
				if q.Parent, err = parseRun("parent", in.Parent); err != nil {
					return runsListOut{}, err
				}
			}
			runs, err := s.db.Runs().List(q)
			if err != nil {
				return runsListOut{}, err
			}
			out := runsListOut{More: len(runs) > limit}
			runs = runs[:min(len(runs), limit)]
			out.Runs = mapSlice(runs, runOf)
			return out, nil
		})

	addTool(srv, tool{name: "runs_show", title: "Show a run", readOnly: true,
		desc: "A run's description with all of its events, state cells, KV entries and spans, read at one snapshot."},
		func(_ context.Context, in runsShowIn) (runsShowOut, error) {
			id, err := parseRun("run", in.Run)
			if err != nil {
				return runsShowOut{}, err
			}
			rd, err := readRun(s.db, id)
			if err != nil {
				return runsShowOut{}, err
			}
			return runsShowOut{Run: runOf(rd.Run), Events: mapSlice(rd.Events, eventOf), State: mapSlice(rd.State, cellOf),
				KV: mapSlice(rd.KV, entryOf), Spans: mapSlice(rd.Spans, spanOf)}, nil
		})
}

// parseEndStatus reads the status a run ends in; "" is completed.
func parseEndStatus(s string) (inmem.RunStatus, error) {
	switch s {
	case "":
		return inmem.Completed, nil
	case inmem.Completed.String(), inmem.Failed.String(), inmem.Cancelled.String():
		return parseStatus(s)
	}
	return 0, fmt.Errorf("status %q: a run ends completed, failed or cancelled: %w", s, inmem.ErrInvalidArgument)
}

func (s *mcpServer) runByID(field, id string) (*inmem.Run, error) {
	rid, err := parseRun(field, id)
	if err != nil {
		return nil, err
	}
	return s.db.Run(rid)
}

// Inputs and outputs of the KV, event, state and trace tools.
type (
	kvGetIn struct {
		scopeArg
		Key string `json:"key"`
	}
	kvPutIn struct {
		scopeArg
		Key string `json:"key"`
		// A pointer, so that "" (an empty value) differs from no value.
		Value       *string `json:"value,omitempty" jsonschema:"the value as UTF-8 text; this or value_base64 is required"`
		ValueBase64 string  `json:"value_base64,omitempty" jsonschema:"the value as base64, for binary values, instead of value"`
		TTLSeconds  float64 `json:"ttl_seconds,omitempty" jsonschema:"if set, the key reads as absent after this many seconds"`
	}
	kvDeleteIn struct {
		scopeArg
		Key string `json:"key" jsonschema:"the key; an absent key is not an error"`
	}
	kvListIn struct {
		scopeArg
		Prefix string `json:"prefix,omitempty" jsonschema:"only keys starting with this"`
		Limit  int    `json:"limit,omitempty" jsonschema:"at most this many entries, in key order (default 100, at most 1000)"`
	}
	kvListOut struct {
		Entries []entryOut `json:"entries"`
		More    bool       `json:"more,omitempty" jsonschema:"true when more keys match than were returned"`
	}
	okOut struct {
		OK bool `json:"ok"`
	}
	eventsAppendIn struct {
		scopeArg
		Type          string `json:"type" jsonschema:"the event's type, such as tool.result"`
		Payload       string `json:"payload,omitempty" jsonschema:"the payload as UTF-8 text, often JSON"`
		PayloadBase64 string `json:"payload_base64,omitempty" jsonschema:"the payload as base64, for binary payloads, instead of payload"`
	}
	eventsRangeIn struct {
		scopeArg
		From  uint64 `json:"from,omitempty" jsonschema:"the first sequence number (default 0)"`
		To    uint64 `json:"to,omitempty" jsonschema:"one past the last sequence number (default: the end of the log)"`
		Type  string `json:"type,omitempty" jsonschema:"only events of this type"`
		Limit int    `json:"limit,omitempty" jsonschema:"at most this many events (default 100, at most 1000)"`
	}
	eventsRangeOut struct {
		Events []eventOut `json:"events"`
		Len    uint64     `json:"len" jsonschema:"the number of events in the log"`
		More   bool       `json:"more,omitempty" jsonschema:"true when more events match than were returned"`
	}
	stateGetIn struct {
		scopeArg
		Name string `json:"name" jsonschema:"the cell's name"`
	}
	stateDefineIn struct {
		scopeArg
		Name    string              `json:"name" jsonschema:"the new cell's name"`
		Initial string              `json:"initial" jsonschema:"the state the cell starts in"`
		Allow   map[string][]string `json:"allow,omitempty" jsonschema:"for each state, the states it may move to; a state with no entry is final"`
	}
	stateCASIn struct {
		scopeArg
		Name        string `json:"name" jsonschema:"the cell's name"`
		Version     uint64 `json:"version" jsonschema:"the version read with state_get; 0 creates the cell, failing if it exists"`
		Value       string `json:"value,omitempty" jsonschema:"the new value as UTF-8 text"`
		ValueBase64 string `json:"value_base64,omitempty" jsonschema:"the new value as base64, instead of value"`
	}
	tracesRecordIn struct {
		scopeArg
		Kind         string         `json:"kind" jsonschema:"llm_call, tool_call, retrieval, decision, thought, error or custom"`
		Name         string         `json:"name" jsonschema:"what was called or decided, such as the tool's name"`
		Parent       uint64         `json:"parent,omitempty" jsonschema:"the ID of the enclosing span, if any"`
		Start        string         `json:"start,omitempty" jsonschema:"RFC 3339 start time (default: now)"`
		End          string         `json:"end,omitempty" jsonschema:"RFC 3339 end time"`
		Status       string         `json:"status,omitempty" jsonschema:"ok or error"`
		Input        string         `json:"input,omitempty"`
		InputBase64  string         `json:"input_base64,omitempty" jsonschema:"the input as base64, instead of input"`
		Output       string         `json:"output,omitempty"`
		OutputBase64 string         `json:"output_base64,omitempty" jsonschema:"the output as base64, instead of output"`
		Attrs        map[string]any `json:"attrs,omitempty"`
		Tags         []string       `json:"tags,omitempty"`
	}
	tracesRecordOut struct {
		ID uint64 `json:"id" jsonschema:"the new span's ID"`
	}
	tracesQueryIn struct {
		scopeArg
		Kind   string `json:"kind,omitempty" jsonschema:"only spans of this kind"`
		Name   string `json:"name,omitempty" jsonschema:"only spans with this name"`
		Tag    string `json:"tag,omitempty" jsonschema:"only spans with this tag"`
		Parent uint64 `json:"parent,omitempty" jsonschema:"only children of this span"`
		From   string `json:"from,omitempty" jsonschema:"only spans starting at or after this RFC 3339 time"`
		Until  string `json:"until,omitempty" jsonschema:"only spans starting before this RFC 3339 time"`
		Limit  int    `json:"limit,omitempty" jsonschema:"at most this many spans, in start order (default 100, at most 1000)"`
	}
	tracesQueryOut struct {
		Spans []spanOut `json:"spans"`
		More  bool      `json:"more,omitempty" jsonschema:"true when more spans match than were returned"`
	}
)

func (s *mcpServer) addPrimitiveTools(srv *mcp.Server) {
	addTool(srv, tool{name: "kv_get", title: "Get a key", readOnly: true,
		desc: "Read one key of a run's (or a shared scope's) key-value store. A missing key is an error."},
		func(_ context.Context, in kvGetIn) (entryOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return entryOut{}, err
			}
			if in.Key == "" {
				return entryOut{}, fmt.Errorf("key is empty: %w", inmem.ErrInvalidArgument)
			}
			// Listing is what reports versions; the key sorts first among
			// the keys it prefixes, so one entry is enough.
			es, err := run.KV().ListAfter(in.Key, "", 1)
			if err != nil {
				return entryOut{}, err
			}
			if len(es) == 0 || es[0].Key != in.Key {
				return entryOut{}, fmt.Errorf("key %q: %w", in.Key, inmem.ErrNotFound)
			}
			return entryOf(es[0]), nil
		})

	addTool(srv, tool{name: "kv_put", title: "Put a key",
		desc: "Set a key to a value in a run's (or a shared scope's) key-value store, optionally with a time to live."},
		func(_ context.Context, in kvPutIn) (okOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return okOut{}, err
			}
			if in.Value == nil && in.ValueBase64 == "" {
				return okOut{}, fmt.Errorf("value is required (\"\" for an empty one), or value_base64: %w", inmem.ErrInvalidArgument)
			}
			v, err := inBytes("value", deref(in.Value), in.ValueBase64)
			if err != nil {
				return okOut{}, err
			}
			switch {
			case in.TTLSeconds < 0:
				return okOut{}, fmt.Errorf("ttl_seconds %v: must be positive: %w", in.TTLSeconds, inmem.ErrInvalidArgument)
			case in.TTLSeconds > 0:
				err = run.KV().PutTTL(in.Key, v, time.Duration(in.TTLSeconds*float64(time.Second)))
			default:
				err = run.KV().Put(in.Key, v)
			}
			return okOut{OK: err == nil}, err
		})

	addTool(srv, tool{name: "kv_delete", title: "Delete a key",
		desc: "Delete a key of a run's (or a shared scope's) key-value store; an absent key is not an error."},
		func(_ context.Context, in kvDeleteIn) (okOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return okOut{}, err
			}
			err = run.KV().Delete(in.Key)
			return okOut{OK: err == nil}, err
		})

	addTool(srv, tool{name: "kv_list", title: "List keys", readOnly: true,
		desc: "List the entries of a run's (or a shared scope's) key-value store whose keys start with prefix, in key order."},
		func(_ context.Context, in kvListIn) (kvListOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return kvListOut{}, err
			}
			limit, err := limitOr(in.Limit, defaultList, maxList)
			if err != nil {
				return kvListOut{}, err
			}
			var out kvListOut
			out.Entries = []entryOut{}
			err = run.KV().Scan(in.Prefix, func(key string, value []byte) bool {
				if len(out.Entries) == limit {
					out.More = true
					return false
				}
				out.Entries = append(out.Entries, entryOf(inmem.Entry{Key: key, Value: value}))
				return true
			})
			return out, err
		})

	addTool(srv, tool{name: "events_append", title: "Append an event", additive: true,
		desc: "Append an event to a run's hash-chained, append-only event log; returns it with its sequence number and hash."},
		func(_ context.Context, in eventsAppendIn) (eventOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return eventOut{}, err
			}
			p, err := inBytes("payload", in.Payload, in.PayloadBase64)
			if err != nil {
				return eventOut{}, err
			}
			e, err := run.Events().Append(in.Type, p)
			if err != nil {
				return eventOut{}, err
			}
			return eventOf(e), nil
		})

	addTool(srv, tool{name: "events_range", title: "Read events", readOnly: true,
		desc: "Read the events with from <= seq < to of a run's event log, optionally only one type."},
		func(_ context.Context, in eventsRangeIn) (eventsRangeOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return eventsRangeOut{}, err
			}
			limit, err := limitOr(in.Limit, defaultList, maxList)
			if err != nil {
				return eventsRangeOut{}, err
			}
			var out eventsRangeOut
			err = run.View(func(tx *inmem.Tx) error {
				n, err := tx.Events().Len()
				if err != nil {
					return err
				}
				out.Len = n
				switch {
				case in.To != 0 && in.From > in.To:
					return fmt.Errorf("from %d is past to %d: %w", in.From, in.To, inmem.ErrInvalidArgument)
				case in.From > n:
					return fmt.Errorf("from %d is past the end of the log (%d events): %w", in.From, n, inmem.ErrInvalidArgument)
				}
				to := in.To
				if to == 0 || to > n {
					to = n
				}
				var evs []inmem.Event
				if in.Type != "" {
					all, err := tx.Events().ByType(in.Type)
					if err != nil {
						return err
					}
					for _, e := range all {
						if e.Seq >= in.From && e.Seq < to {
							evs = append(evs, e)
						}
					}
				} else {
					// One past the limit, to know whether there is more.
					end := min(to, in.From+uint64(limit)+1)
					if evs, err = tx.Events().Range(in.From, end); err != nil {
						return err
					}
					out.More = end < to
				}
				if len(evs) > limit {
					evs, out.More = evs[:limit], true
				}
				out.Events = mapSlice(evs, eventOf)
				return nil
			})
			return out, err
		})

	addTool(srv, tool{name: "state_get", title: "Get a state cell", readOnly: true,
		desc: "Read a state cell: its value and version. Pass the version to state_cas to update it."},
		func(_ context.Context, in stateGetIn) (cellOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return cellOut{}, err
			}
			c, err := run.State().Get(in.Name)
			if err != nil {
				return cellOut{}, err
			}
			return cellOf(c), nil
		})

	addTool(srv, tool{name: "state_define", title: "Declare a state machine",
		desc: `Create a state cell that holds a state name, starting in initial, and may only move along the allowed transitions: {"initial": "plan", "allow": {"plan": ["act"], "act": ["plan", "done"]}}. A state_cas to a state not allowed from the current one fails with invalid transition.`},
		func(_ context.Context, in stateDefineIn) (cellOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return cellOut{}, err
			}
			if err := run.State().Define(in.Name, inmem.Machine{Initial: in.Initial, Allow: in.Allow}); err != nil {
				return cellOut{}, err
			}
			c, err := run.State().Get(in.Name)
			if err != nil {
				return cellOut{}, err
			}
			return cellOf(c), nil
		})

	addTool(srv, tool{name: "state_cas", title: "Compare-and-swap a state cell",
		desc: "Write a state cell only if it is still at version (from state_get); version 0 creates it. A version mismatch is an error naming both versions: read again and retry."},
		func(_ context.Context, in stateCASIn) (cellOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return cellOut{}, err
			}
			v, err := inBytes("value", in.Value, in.ValueBase64)
			if err != nil {
				return cellOut{}, err
			}
			var c inmem.Cell
			if in.Version == 0 {
				c, err = run.State().Init(in.Name, v)
			} else {
				c, err = run.State().CAS(in.Name, in.Version, v)
			}
			if err != nil {
				return cellOut{}, err // names the cell
			}
			return cellOf(c), nil
		})

	addTool(srv, tool{name: "traces_record", title: "Record a span", additive: true, schema: attrsProperty,
		desc: "Record one span of the agent's reasoning (an LLM call, a tool call, a retrieval, a decision) and return its ID."},
		func(_ context.Context, in tracesRecordIn) (tracesRecordOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return tracesRecordOut{}, err
			}
			sp := inmem.Span{Parent: inmem.SpanID(in.Parent), Name: in.Name, Tags: in.Tags}
			for name, v := range in.Attrs {
				if err := setAttr(&sp, name, v); err != nil {
					return tracesRecordOut{}, err
				}
			}
			if sp.Kind, err = parseKind(in.Kind); err != nil {
				return tracesRecordOut{}, err
			}
			if sp.Kind == 0 {
				return tracesRecordOut{}, fmt.Errorf("kind is required: %w", inmem.ErrInvalidArgument)
			}
			switch in.Status {
			case "", "ok", "error":
				sp.Status = inmem.SpanStatus(in.Status)
			default:
				return tracesRecordOut{}, fmt.Errorf("status %q: want ok or error: %w", in.Status, inmem.ErrInvalidArgument)
			}
			if sp.Start, err = parseTime("start", in.Start); err != nil {
				return tracesRecordOut{}, err
			}
			if sp.End, err = parseTime("end", in.End); err != nil {
				return tracesRecordOut{}, err
			}
			if sp.Input, err = inBytes("input", in.Input, in.InputBase64); err != nil {
				return tracesRecordOut{}, err
			}
			if sp.Output, err = inBytes("output", in.Output, in.OutputBase64); err != nil {
				return tracesRecordOut{}, err
			}
			id, err := run.Traces().Record(sp)
			return tracesRecordOut{ID: uint64(id)}, err
		})

	addTool(srv, tool{name: "traces_query", title: "Query spans", readOnly: true,
		desc: "Find spans of a run by kind, name, tag, parent and start time, in start order."},
		func(_ context.Context, in tracesQueryIn) (tracesQueryOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return tracesQueryOut{}, err
			}
			limit, err := limitOr(in.Limit, defaultList, maxList)
			if err != nil {
				return tracesQueryOut{}, err
			}
			q := inmem.SpanQuery{Name: in.Name, Tag: in.Tag, Parent: inmem.SpanID(in.Parent), Limit: limit + 1}
			if q.Kind, err = parseKind(in.Kind); err != nil {
				return tracesQueryOut{}, err
			}
			if q.From, err = parseTime("from", in.From); err != nil {
				return tracesQueryOut{}, err
			}
			if q.Until, err = parseTime("until", in.Until); err != nil {
				return tracesQueryOut{}, err
			}
			spans, err := run.Traces().Query(q)
			if err != nil {
				return tracesQueryOut{}, err
			}
			out := tracesQueryOut{More: len(spans) > limit}
			out.Spans = mapSlice(spans[:min(len(spans), limit)], spanOf)
			return out, nil
		})
}

// isNotFound reports a missing key, cell, collection or record.
func isNotFound(err error) bool { return errors.Is(err, inmem.ErrNotFound) }
