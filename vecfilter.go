package inmem

import (
	"fmt"
	"slices"
)

// Filter selects vectors by their metadata in Vectors.Search (see Where).
// Build one with Eq, In, Gt, Gte, Lt, Lte, And, Or and Not. Numbers compare
// as numbers whatever their Go type; strings compare as strings; values of
// different kinds never match.
type Filter struct {
	op    filterOp
	field string
	vals  []any
	subs  []Filter
}

type filterOp uint8

const (
	opEq filterOp = iota + 1
	opIn
	opGt
	opGte
	opLt
	opLte
	opAnd
	opOr
	opNot
)

// Eq matches metadata whose field equals v.
func Eq(field string, v any) Filter { return Filter{op: opEq, field: field, vals: []any{v}} }

// In matches metadata whose field equals one of vs.
func In(field string, vs ...any) Filter { return Filter{op: opIn, field: field, vals: vs} }

// Gt matches metadata whose field is greater than v.
func Gt(field string, v any) Filter { return Filter{op: opGt, field: field, vals: []any{v}} }

// Gte matches metadata whose field is at least v.
func Gte(field string, v any) Filter { return Filter{op: opGte, field: field, vals: []any{v}} }

// Lt matches metadata whose field is less than v.
func Lt(field string, v any) Filter { return Filter{op: opLt, field: field, vals: []any{v}} }

// Lte matches metadata whose field is at most v.
func Lte(field string, v any) Filter { return Filter{op: opLte, field: field, vals: []any{v}} }

// And matches when every filter matches.
func And(fs ...Filter) Filter { return Filter{op: opAnd, subs: fs} }

// Or matches when any filter matches.
func Or(fs ...Filter) Filter { return Filter{op: opOr, subs: fs} }

// Not matches when f does not.
func Not(f Filter) Filter { return Filter{op: opNot, subs: []Filter{f}} }

// check reports a filter that cannot be evaluated.
func (f *Filter) check() error {
	switch f.op {
	case opEq, opIn, opGt, opGte, opLt, opLte:
		if f.field == "" {
			return fmt.Errorf("filter on an empty field name: %w", ErrInvalidArgument)
		}
		for _, v := range f.vals {
			if _, ok := normalize(v); !ok {
				return fmt.Errorf("filter value %v (%T): want a number, string or bool: %w", v, v, ErrInvalidArgument)
			}
		}
	case opAnd, opOr, opNot:
		for i := range f.subs {
			if err := f.subs[i].check(); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("zero Filter: build one with Eq, In, ...: %w", ErrInvalidArgument)
	}
	return nil
}

// normalize maps a metadata or filter value to float64, string or bool.
func normalize(v any) (any, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case string, bool:
		return x, true
	}
	return nil, false
}

// compare orders a and b, both normalized; ok is false when they are of
// different kinds or bools compared by order.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func (f *Filter) match(meta map[string]any) bool {
	switch f.op {
	case opAnd:
		for i := range f.subs {
			if !f.subs[i].match(meta) {
				return false
			}
		}
		return true
	case opOr:
		return slices.ContainsFunc(f.subs, func(s Filter) bool { return s.match(meta) })
	case opNot:
		return !f.subs[0].match(meta)
	}
	raw, ok := meta[f.field]
	if !ok {
		return false
	}
	have, ok := normalize(raw)
	if !ok {
		return false
	}
	switch f.op {
	case opEq, opIn:
		for _, v := range f.vals {
			want, _ := normalize(v)
			if have == want {
				return true
			}
		}
		return false
	}
	want, _ := normalize(f.vals[0])
	c, ok := compare(have, want)
	if !ok {
		return false
	}
	switch f.op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	default: // opLte
		return c <= 0
	}
}
