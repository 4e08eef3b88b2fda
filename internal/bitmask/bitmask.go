// Package bitmask reads sets of mirrors kept as bit masks: bit i%64 of word
// i/64 for mirror i.
package bitmask

// Word returns word w of m (0 past its end or for nil).
func Word(m []uint64, w int) uint64 {
	if w < len(m) {
		return m[w]
	}
	return 0
}

// IsZero reports whether m has no bit set.
func IsZero(m []uint64) bool {
	for _, w := range m {
		if w != 0 {
			return false
		}
	}
	return true
}
