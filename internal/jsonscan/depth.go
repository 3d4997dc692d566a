// Package jsonscan reads JSON text without decoding it: how deeply it nests,
// and the names of an object's members. Both run in one pass over the bytes,
// so servers can refuse deep or ambiguous documents before a decoder
// recurses through them or resolves them its own way.
package jsonscan

// Depth returns the deepest nesting of objects and arrays in data: 0 for a
// scalar, 1 for {} or [], 2 for [[]]. Brackets inside strings do not count.
// It does not validate: on malformed text the result still bounds what a
// decoder could reach before failing.
func Depth(data []byte) int {
	level, deepest := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			level++
			deepest = max(deepest, level)
		case '}', ']':
			level--
		}
	}
	return deepest
}

// Exceeds reports whether data nests deeper than limit, stopping as soon as
// it does.
func Exceeds(data []byte, limit int) bool {
	level := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if level++; level > limit {
				return true
			}
		case '}', ']':
			level--
		}
	}
	return false
}
