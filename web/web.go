// Package web holds the live dashboard served at /status.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS holds index.html and its assets at its root.
var FS = mustSub(static, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
