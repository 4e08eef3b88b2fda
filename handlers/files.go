package handlers

import (
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/files/verify"
	"github.com/dispatcher/dispatcher/internal/glob"
	"github.com/dispatcher/dispatcher/strategy"
)

// FileViews gives a file-aware pool's current View (files.Scanner does);
// nil until the first scan.
type FileViews interface {
	View() *files.View
}

// FileChecks verifies requested files on the mirrors in the background
// (verify.Verifier does). Both methods are called on the request path:
// they must not block.
type FileChecks interface {
	// Requested hands over a requested file.
	Requested(c files.Check)
	// Verdict returns what the checks found of path (nil: nothing).
	Verdict(path string) *verify.Verdict
}

// What Route.Unknown can be (the pool's files.unknown) besides "any",
// which sends a path the origin lacks to any mirror.
const (
	unknownFallback = "fallback"
	unknown404      = "404"
)

// fileRef is the origin file a request names.
type fileRef struct {
	v  *files.View
	id int
}

// sha256 returns the SHA-256 of the file, when the origin's scan hashed
// it (files.hashes).
func (f fileRef) sha256() (sum [32]byte, ok bool) {
	if f.v == nil {
		return sum, false
	}
	return f.v.Index.SHA256(f.id)
}

// fileAnswer is what a file-aware pool does with a request.
type fileAnswer int

const (
	fileRedirect fileAnswer = iota // pick a mirror (among the holders when cl.Only is set)
	fileMeta4                      // answer the Metalink of the file
	fileSHA256                     // answer its sha256sum line
	fileNotFound                   // 404
	fileFallback                   // the pool's fallback
	fileOrigin                     // the origin (origin_paths, min_size)
)

// resolveFile looks the request's path up in the pool's View. For a file
// the origin has, it sets cl.Only to its holders (left nil when every
// mirror holds it: the pick then costs what it costs without files).
// The lookup is in memory: no I/O, no lock.
func resolveFile(route *Route, r *http.Request, cl *strategy.Client) (fileRef, fileAnswer) {
	if route.OriginURL != "" && glob.Any(route.OriginPaths, strings.TrimPrefix(r.URL.Path, "/")) {
		return fileRef{}, fileOrigin
	}
	v := route.Files.View()
	if v == nil { // not scanned yet: nothing is known of any mirror
		if route.Fallback != "" {
			return fileRef{}, fileFallback
		}
		return fileRef{}, fileRedirect
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	answer := fileRedirect
	id, ok := v.Index.Lookup(name)
	if !ok {
		switch {
		case strings.HasSuffix(name, ".meta4"):
			name = strings.TrimSuffix(name, ".meta4")
			id, ok = v.Index.Lookup(name)
			answer = fileMeta4
		case strings.HasSuffix(name, ".sha256"):
			name = strings.TrimSuffix(name, ".sha256")
			id, ok = v.Index.Lookup(name)
			answer = fileSHA256
		}
	} else if strings.Contains(firstValue(r.Header[hdrAccept]), "application/metalink4+xml") {
		answer = fileMeta4
	}
	if !ok {
		switch route.Unknown {
		case unknown404:
			return fileRef{}, fileNotFound
		case unknownFallback:
			return fileRef{}, fileFallback
		}
		return fileRef{}, fileRedirect
	}
	if answer == fileRedirect && route.MinSize > 0 && v.Index.Size(id) < route.MinSize {
		return fileRef{v, id}, fileOrigin // cheaper from the origin than a redirect away
	}
	choice, _ := chooseFile(route, v, id, name, true)
	if !choice.Confirmed && route.Fallback != "" {
		return fileRef{v, id}, fileFallback // no mirror is known to hold it
	}
	cl.Only = choice.Only
	return fileRef{v, id}, answer
}

// chooseFile applies the one rule (files.View.Choose) to origin file id,
// named name, with the pool's checks and their verdict on it; with
// request set, the file is handed to the checks too.
func chooseFile(route *Route, v *files.View, id int, name string, request bool) (files.Choice, *verify.Verdict) {
	if route.Verify == nil {
		return v.Choose(id, false, nil, nil), nil
	}
	if request {
		route.Verify.Requested(v.Check(id, name))
	}
	d := route.Verify.Verdict(name)
	var passed, failed []uint64
	if d != nil {
		failed = d.Failed
		if d.Version == v.Index.Version(id) {
			passed = d.Passed
		}
	}
	return v.Choose(id, true, passed, failed), d
}

// sha256Line answers <path>.sha256 in sha256sum format.
func (h *Handler) sha256Line(c *gin.Context, f fileRef) {
	sum, ok := f.v.Index.SHA256(f.id)
	if !ok {
		c.String(http.StatusNotFound, "404 no SHA-256 is known for this file (the pool's files.hashes is off)\n")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.String(http.StatusOK, "%s  %s\n", hex.EncodeToString(sum[:]), path.Base(f.v.Index.Path(f.id)))
}

// metalink4 is the RFC 5854 document.
type metalink4 struct {
	XMLName   xml.Name       `xml:"urn:ietf:params:xml:ns:metalink metalink"`
	Published string         `xml:"published"`
	Files     []metalinkFile `xml:"file"`
}

type metalinkFile struct {
	Name string        `xml:"name,attr"`
	Size int64         `xml:"size"`
	Hash *metalinkHash `xml:"hash,omitempty"`
	URLs []metalinkURL `xml:"url"`
}

type metalinkHash struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type metalinkURL struct {
	Location string `xml:"location,attr,omitempty"`
	Priority int    `xml:"priority,attr"`
	URL      string `xml:",chardata"`
}

// metalink answers the RFC 5854 Metalink of a file: its size, SHA-256 and
// the mirrors that hold it, ranked for this client.
func (h *Handler) metalink(c *gin.Context, route *Route, p *strategy.Pool, cl strategy.Client, f fileRef) {
	ix := f.v.Index
	name := ix.Path(f.id)
	doc := metalink4{Published: time.Unix(ix.MTime(f.id), 0).UTC().Format(time.RFC3339)}
	mf := metalinkFile{Name: path.Base(name), Size: ix.Size(f.id)}
	if sum, ok := ix.SHA256(f.id); ok {
		mf.Hash = &metalinkHash{Type: "sha-256", Value: hex.EncodeToString(sum[:])}
	}
	for n, i := range strategy.Rank(p, cl, nil, 0) {
		m := &p.Mirrors[i]
		loc := appendLocation(nil, m.URL, true, escapePath("/"+name), "")
		mf.URLs = append(mf.URLs, metalinkURL{Location: strings.ToLower(m.Country), Priority: n + 1, URL: string(loc)})
	}
	if len(mf.URLs) == 0 {
		c.Header("Retry-After", "10")
		c.String(http.StatusServiceUnavailable, "503 no mirror of pool %s holds this file yet\n", route.Pool)
		return
	}
	doc.Files = append(doc.Files, mf)
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		c.String(http.StatusInternalServerError, "500 %v\n", err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/metalink4+xml", append([]byte(xml.Header), out...))
}

// fileInfo is a file in a ?mirrorlist answer.
type fileInfo struct {
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	MTime  time.Time `json:"mtime"`
	SHA256 string    `json:"sha256,omitempty"`
}

func newFileInfo(f fileRef) *fileInfo {
	if f.v == nil {
		return nil
	}
	ix := f.v.Index
	fi := &fileInfo{Path: "/" + ix.Path(f.id), Size: ix.Size(f.id), MTime: time.Unix(ix.MTime(f.id), 0).UTC()}
	if sum, ok := ix.SHA256(f.id); ok {
		fi.SHA256 = hex.EncodeToString(sum[:])
	}
	return fi
}

func (fi *fileInfo) String() string {
	s := fmt.Sprintf("%s, %d bytes, modified %s", fi.Path, fi.Size, fi.MTime.Format(time.RFC3339))
	if fi.SHA256 != "" {
		s += ", SHA-256 " + fi.SHA256
	}
	return s
}
