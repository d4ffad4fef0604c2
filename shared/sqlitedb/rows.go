package sqlitedb

// MaxRowsPerStatement bounds the rows one multi-row statement of Chunks
// holds.
const MaxRowsPerStatement = 64

// Chunks splits n rows into runs of a power of two, largest first, none
// over MaxRowsPerStatement, and calls fn with each run's bounds. A
// statement of k rows is its own text, prepared once and kept (see Stmt):
// powers of two keep that to seven texts per statement, where every k up
// to the limit would make sixty-four.
func Chunks(n int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; {
		k := MaxRowsPerStatement
		for k > n-lo {
			k /= 2
		}
		if err := fn(lo, lo+k); err != nil {
			return err
		}
		lo += k
	}
	return nil
}
