package primitives

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// AttrKind is the type of an AttrValue. The zero value means "unset".
type AttrKind uint8

// Attribute value kinds.
const (
	AttrKindInt64 AttrKind = iota + 1
	AttrKindFloat64
	AttrKindBool
	AttrKindString
)

var attrKindNames = [...]string{"unset", "int64", "float64", "bool", "string"}

// String returns the kind's name: int64, float64, bool or string.
func (k AttrKind) String() string {
	if int(k) < len(attrKindNames) {
		return attrKindNames[k]
	}
	return fmt.Sprintf("AttrKind(%d)", k)
}

// AttrValue is a typed span attribute value: an int64, a float64, a bool
// or a string. Make one with Int64Value, IntValue, Float64Value, BoolValue
// or StringValue; the zero AttrValue is unset, and RecordSpan refuses it.
// AttrValues compare with ==.
//
// In JSON an AttrValue is its plain value. An integer is written without a
// fraction or exponent and a float64 always with one, so that decoding it
// back gives the same kind.
type AttrValue struct {
	kind AttrKind
	num  uint64 // an int64, a float64's bits, or 1 for true
	str  string
}

// Int64Value returns an AttrValue holding v.
func Int64Value(v int64) AttrValue { return AttrValue{kind: AttrKindInt64, num: uint64(v)} }

// IntValue returns an AttrValue holding v as an int64.
func IntValue(v int) AttrValue { return Int64Value(int64(v)) }

// Float64Value returns an AttrValue holding v. RecordSpan refuses NaN and
// infinities, which JSON cannot carry.
func Float64Value(v float64) AttrValue {
	return AttrValue{kind: AttrKindFloat64, num: math.Float64bits(v)}
}

// BoolValue returns an AttrValue holding v.
func BoolValue(v bool) AttrValue {
	a := AttrValue{kind: AttrKindBool}
	if v {
		a.num = 1
	}
	return a
}

// StringValue returns an AttrValue holding v.
func StringValue(v string) AttrValue { return AttrValue{kind: AttrKindString, str: v} }

// Kind returns v's kind; AttrKind(0) for the zero AttrValue.
func (v AttrValue) Kind() AttrKind { return v.kind }

// Int64 returns v's value. It panics if v is not an AttrKindInt64.
func (v AttrValue) Int64() int64 {
	v.must(AttrKindInt64)
	return int64(v.num)
}

// Float64 returns v's value. It panics if v is not an AttrKindFloat64.
func (v AttrValue) Float64() float64 {
	v.must(AttrKindFloat64)
	return math.Float64frombits(v.num)
}

// Bool returns v's value. It panics if v is not an AttrKindBool.
func (v AttrValue) Bool() bool {
	v.must(AttrKindBool)
	return v.num == 1
}

// String returns a string value as it is and any other value formatted
// (strconv's shortest form for numbers); "" for the zero AttrValue.
func (v AttrValue) String() string {
	switch v.kind {
	case AttrKindInt64:
		return strconv.FormatInt(int64(v.num), 10)
	case AttrKindFloat64:
		return strconv.FormatFloat(math.Float64frombits(v.num), 'g', -1, 64)
	case AttrKindBool:
		return strconv.FormatBool(v.num == 1)
	}
	return v.str
}

// Any returns v's value as an int64, float64, bool or string; nil for the
// zero AttrValue.
func (v AttrValue) Any() any {
	switch v.kind {
	case AttrKindInt64:
		return int64(v.num)
	case AttrKindFloat64:
		return math.Float64frombits(v.num)
	case AttrKindBool:
		return v.num == 1
	case AttrKindString:
		return v.str
	}
	return nil
}

func (v AttrValue) must(k AttrKind) {
	if v.kind != k {
		panic(fmt.Sprintf("inmem: AttrValue of kind %s read as %s", v.kind, k))
	}
}

// MarshalJSON writes v as a JSON number, boolean or string; null for the
// zero AttrValue.
func (v AttrValue) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case AttrKindInt64:
		return strconv.AppendInt(nil, int64(v.num), 10), nil
	case AttrKindFloat64:
		f := math.Float64frombits(v.num)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("attribute value %v: not a JSON number: %w", f, ErrInvalidArgument)
		}
		// encoding/json's choice between plain and exponent form, plus a
		// ".0" where that leaves neither fraction nor exponent.
		format := byte('f')
		if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		b := strconv.AppendFloat(nil, f, format, -1, 64)
		if format == 'f' && !bytes.ContainsRune(b, '.') {
			b = append(b, ".0"...)
		}
		return b, nil
	case AttrKindBool:
		return strconv.AppendBool(nil, v.num == 1), nil
	case AttrKindString:
		return json.Marshal(v.str)
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads what MarshalJSON writes: a number with a fraction or
// exponent as a float64, any other number as an int64 (one out of int64's
// range is an error), a boolean, a string, or null for the zero AttrValue.
func (v *AttrValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("attribute value: empty JSON: %w", ErrInvalidArgument)
	case string(b) == "null":
		*v = AttrValue{}
	case string(b) == "true" || string(b) == "false":
		*v = BoolValue(b[0] == 't')
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = StringValue(s)
	case bytes.ContainsAny(b, ".eE"):
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("attribute value %s: %w", b, ErrInvalidArgument)
		}
		*v = Float64Value(f)
	default:
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("attribute value %s: not an int64: %w", b, ErrInvalidArgument)
		}
		*v = Int64Value(n)
	}
	return nil
}

// checkValue validates a typed attribute value for RecordSpan.
func checkValue(name string, v AttrValue) error {
	switch v.kind {
	case AttrKindInt64, AttrKindBool:
	case AttrKindFloat64:
		if f := math.Float64frombits(v.num); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("attribute %s: %v is not a finite number: %w", name, f, ErrInvalidArgument)
		}
	case AttrKindString:
		return checkPayload("attribute value", []byte(v.str))
	default:
		return fmt.Errorf("attribute %s: value of kind %s: %w", name, v.kind, ErrInvalidArgument)
	}
	return nil
}

// typedAttr is one typed span attribute.
type typedAttr struct {
	name  string
	value AttrValue
}

// sortedValues is sortedAttrs for Span.Values.
func sortedValues(m map[string]AttrValue, buf *[8]typedAttr) []typedAttr {
	if len(m) == 0 || len(m) > MaxAttrs {
		return nil
	}
	as := buf[:0]
	for k, v := range m {
		as = append(as, typedAttr{k, v})
	}
	slices.SortFunc(as, func(a, b typedAttr) int { return strings.Compare(a.name, b.name) })
	return as
}

// valuesSize bounds the encoded size of the typed attributes: a count,
// then per attribute its name, a kind byte and at most a 10-byte varint or
// a length-prefixed string.
func valuesSize(vs []typedAttr) int {
	if len(vs) == 0 {
		return 0
	}
	size := binary.MaxVarintLen64
	for _, a := range vs {
		size += 3 + len(a.name) + 1 + 10 + len(a.value.str)
	}
	return size
}

// appendValues appends the typed attributes section: absent when there are
// none, so that spans without them encode as they did before the section
// existed.
func appendValues(b []byte, vs []typedAttr) []byte {
	if len(vs) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, a := range vs {
		b = appendString(b, a.name)
		b = append(b, byte(a.value.kind))
		switch a.value.kind {
		case AttrKindInt64:
			b = binary.AppendVarint(b, int64(a.value.num))
		case AttrKindFloat64:
			b = binary.BigEndian.AppendUint64(b, a.value.num)
		case AttrKindBool:
			b = append(b, byte(a.value.num))
		default:
			b = appendString(b, a.value.str)
		}
	}
	return b
}

// decodeValues reads the typed attributes section, which is there only if
// bytes are left after the tags. Anything appendValues would not write is
// corruption: a zero count, an unknown kind, a bool other than 0 or 1, a
// float that is not finite, or a name that is also a string attribute.
func decodeValues(d *decoder, attrs map[string]string) map[string]AttrValue {
	if d.err != nil || len(d.b) == 0 {
		return nil
	}
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	m := make(map[string]AttrValue, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := string(d.bytes())
		if _, dup := attrs[name]; dup {
			d.fail()
		}
		var v AttrValue
		k := d.fixed(1)
		if k == nil {
			break
		}
		switch v.kind = AttrKind(k[0]); v.kind {
		case AttrKindInt64:
			x, w := binary.Varint(d.b)
			if w <= 0 {
				d.fail()
				break
			}
			d.b, v.num = d.b[w:], uint64(x)
		case AttrKindFloat64:
			v.num = d.u64()
			if f := math.Float64frombits(v.num); math.IsNaN(f) || math.IsInf(f, 0) {
				d.fail()
			}
		case AttrKindBool:
			if b := d.fixed(1); b != nil {
				if b[0] > 1 {
					d.fail()
				}
				v.num = uint64(b[0])
			}
		case AttrKindString:
			v.str = string(d.bytes())
		default:
			d.fail()
		}
		m[name] = v
	}
	return m
}
