// Package gobzip packs values as gzipped gob, the form the instances
// share state in through Redis.
package gobzip

import (
	"bytes"
	"compress/gzip"
	"encoding/gob"
)

// Encode packs v.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode unpacks data into v.
func Decode(data []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return gob.NewDecoder(zr).Decode(v)
}
