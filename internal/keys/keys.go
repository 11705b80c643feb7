package keys

import (
	"bytes"
	"errors"
)

// Type tags: which primitive (or system table) a key belongs to.
const (
	TagKV     byte = 0x01
	TagEvent  byte = 0x02
	TagState  byte = 0x03
	TagTrace  byte = 0x04
	TagVector byte = 0x05
	// TagRunMeta holds run records in the system scope.
	TagRunMeta byte = 0x10
	// TagCold holds the cold tier's manifest in the system scope: which
	// cold file holds a frozen run's history.
	TagCold byte = 0x11
)

// RunLen is the width of a run ID.
const RunLen = 16

// ErrMalformed is returned by Decode for bytes no tuple encodes to.
var ErrMalformed = errors.New("keys: malformed key")

// Tuple is the decoded form of a key.
type Tuple struct {
	Tenant, App, Agent string
	Run                [RunLen]byte
	Tag                byte
	User               []byte
}

// AppendScope appends the encoding of a scope (namespace and run); every key
// of that scope starts with these bytes.
func AppendScope(dst []byte, tenant, app, agent string, run [RunLen]byte) []byte {
	dst = appendEscaped(dst, tenant)
	dst = appendEscaped(dst, app)
	dst = appendEscaped(dst, agent)
	return append(dst, run[:]...)
}

// AppendKey appends scope, tag and user key. scope must come from
// AppendScope.
func AppendKey(dst, scope []byte, tag byte, user []byte) []byte {
	dst = append(dst, scope...)
	dst = append(dst, tag)
	return append(dst, user...)
}

// Encode is AppendKey(AppendScope(...)) for a whole tuple.
func Encode(dst []byte, t Tuple) []byte {
	dst = AppendScope(dst, t.Tenant, t.App, t.Agent, t.Run)
	dst = append(dst, t.Tag)
	return append(dst, t.User...)
}

func appendEscaped(dst []byte, s string) []byte {
	for {
		i := indexZero(s)
		if i < 0 {
			dst = append(dst, s...)
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, 0x00, 0xFF)
		s = s[i+1:]
	}
	return append(dst, 0x00, 0x01)
}

func indexZero(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

// Decode parses an encoded key. User aliases b.
func Decode(b []byte) (Tuple, error) {
	var t Tuple
	var err error
	if t.Tenant, b, err = readEscaped(b); err != nil {
		return t, err
	}
	if t.App, b, err = readEscaped(b); err != nil {
		return t, err
	}
	if t.Agent, b, err = readEscaped(b); err != nil {
		return t, err
	}
	if len(b) < RunLen+1 {
		return t, ErrMalformed
	}
	copy(t.Run[:], b[:RunLen])
	t.Tag = b[RunLen]
	t.User = b[RunLen+1:]
	return t, nil
}

func readEscaped(b []byte) (string, []byte, error) {
	var out []byte
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 || i+1 >= len(b) {
			return "", nil, ErrMalformed
		}
		out = append(out, b[:i]...)
		switch b[i+1] {
		case 0x01:
			return string(out), b[i+2:], nil
		case 0xFF:
			out = append(out, 0)
			b = b[i+2:]
		default:
			return "", nil, ErrMalformed
		}
	}
}

// ScopeLen returns the length of the scope (namespace and run) a key
// starts with, or -1 if b does not start with one. It allocates nothing.
func ScopeLen(b []byte) int {
	i := 0
	for field := 0; field < 3; field++ {
		for {
			j := bytes.IndexByte(b[i:], 0)
			if j < 0 || i+j+1 >= len(b) {
				return -1
			}
			i += j + 2
			if b[i-1] == 0x01 {
				break
			}
			if b[i-1] != 0xFF {
				return -1
			}
		}
	}
	if len(b) < i+RunLen {
		return -1
	}
	return i + RunLen
}
