// Package keys encodes the engine's keys: namespace | run | type tag | user key.
//
// The encoding is injective (two different tuples never share bytes) and
// order-preserving (bytes.Compare on encodings agrees with comparing the
// tuples field by field), so one run's data is one contiguous key range and
// each primitive's data is contiguous within it.
//
// Layout:
//
//	escaped(tenant) escaped(app) escaped(agent) run[16] tag user-key
//
// escaped(s) writes s with every 0x00 byte as 0x00 0xFF and ends it with
// 0x00 0x01, so strings of any content delimit themselves and still sort as
// the raw strings do. The run is fixed-width, the tag one byte, and the user
// key is last, so it needs no escaping and a user-key prefix is a byte
// prefix of the encoding (prefix listing is a range scan).
//
// The commit version is the second half of the engine's ordering, (key
// ascending, version descending). It is kept beside the key in the
// skiplist node rather than appended, because appending it to an
// unescaped user key would break the order between "a"@v and "ab".
package keys
