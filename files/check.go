package files

// Version is a copy of an origin file as the checks know it: its size
// and modification time (Unix seconds).
type Version struct {
	Size, MTime int64
}

// Check is a requested file as the checks need it: its path, the
// origin's copy, the mirrors believed to hold it (View.Holders) and those
// only a check can tell about (View.Unsure). The masks must not be
// modified.
type Check struct {
	Path            string
	Version         Version
	Holders, Unsure []uint64
	// Requires are, for an apt release file, the files it names
	// (Index.Requires): a mirror passes only when it holds them too.
	Requires []Required
}
