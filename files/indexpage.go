package files

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// A directory index page, as web servers write them: nginx's autoindex
// (HTML, JSON, XML), Apache's mod_autoindex (a <pre> listing or an HTML
// table), lighttpd's dirlisting, and pages of the same shapes.

// indexItem is one entry of an index page.
type indexItem struct {
	name string // one path segment, decoded
	dir  bool
	// size is in bytes, -1 when the page gives none. sizeUnit is 1 for an
	// exact size, else the unit a size was rounded to ("1.2M": 1 MiB): the
	// true size is near size, not equal to it.
	size, sizeUnit int64
	// mtime is in Unix seconds, 0 when the page gives none. exactTime is
	// set for a time to the second in UTC (JSON, XML); an HTML page's
	// time has a minute's precision, or a second's, in the server's zone,
	// which the page does not say.
	mtime     int64
	exactTime bool
	// seconds is set for an HTML time with seconds (else: minutes).
	seconds bool
	// raw is the size and time as the page wrote them: a HEAD made for an
	// entry is reused while the page shows the same.
	raw string
}

// parseIndexPage reads a directory index page by its Content-Type.
func parseIndexPage(body []byte, contentType string) ([]indexItem, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseIndexJSON(body)
	case mt == "application/xml" || mt == "text/xml":
		return parseIndexXML(body)
	case mt == "text/html" || mt == "application/xhtml+xml" || mt == "":
		return parseIndexHTML(body)
	}
	return nil, fmt.Errorf("not a directory index: Content-Type %q", contentType)
}

// parseIndexJSON reads nginx's autoindex_format json.
func parseIndexJSON(body []byte) ([]indexItem, error) {
	var raw []struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		MTime string `json:"mtime"`
		Size  *int64 `json:"size"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("a JSON index that does not parse: %w", err)
	}
	var out []indexItem
	for _, r := range raw {
		it := indexItem{name: r.Name, dir: r.Type == "directory", size: -1, sizeUnit: 1, raw: r.MTime}
		if r.Size != nil {
			it.size = *r.Size
			it.raw += " " + strconv.FormatInt(*r.Size, 10)
		}
		if t, err := http.ParseTime(r.MTime); err == nil {
			it.mtime, it.exactTime = t.Unix(), true
		}
		if r.Type != "file" && r.Type != "directory" {
			continue // a link or other: nginx lists only files and directories
		}
		out = append(out, it)
	}
	return out, nil
}

// parseIndexXML reads nginx's autoindex_format xml.
func parseIndexXML(body []byte) ([]indexItem, error) {
	var list struct {
		Entries []struct {
			XMLName xml.Name
			MTime   string `xml:"mtime,attr"`
			Size    string `xml:"size,attr"`
			Name    string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("an XML index that does not parse: %w", err)
	}
	var out []indexItem
	for _, e := range list.Entries {
		if e.XMLName.Local != "file" && e.XMLName.Local != "directory" {
			continue
		}
		it := indexItem{name: e.Name, dir: e.XMLName.Local == "directory", size: -1, sizeUnit: 1, raw: e.MTime + " " + e.Size}
		if n, err := strconv.ParseInt(e.Size, 10, 64); err == nil {
			it.size = n
		}
		if t, err := time.Parse(time.RFC3339, e.MTime); err == nil {
			it.mtime, it.exactTime = t.Unix(), true
		}
		out = append(out, it)
	}
	return out, nil
}

// The dates of HTML index pages: nginx and Apache's <pre> "03-Dec-2026
// 00:53", Apache's table "2026-12-03 00:53", lighttpd "2026-Dec-03
// 00:53:15"; seconds where given.
var indexDates = []struct {
	re     *regexp.Regexp
	layout string
}{
	{regexp.MustCompile(`\b(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}(?::\d{2})?)\b`), "02-Jan-2006 15:04"},
	{regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?)\b`), "2006-01-02 15:04"},
	{regexp.MustCompile(`\b(\d{4}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}(?::\d{2})?)\b`), "2006-Jan-02 15:04"},
}

// indexSize is a size after the date: "1500000", "1M", "1.4M", "6.0 KiB",
// "-" (none).
var indexSize = regexp.MustCompile(`^\s*(?:(-)|(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?)(?:\s|$)`)

// parseIndexHTML reads the links of an HTML index page, with the date and
// size written after each, up to the end of its line (a <pre> listing) or
// its table row.
func parseIndexHTML(body []byte) ([]indexItem, error) {
	z := html.NewTokenizer(bytes.NewReader(body))
	var out []indexItem
	var cur *indexItem
	var meta strings.Builder
	inRow, inLink, inScript := false, false, false
	finish := func() {
		if cur != nil {
			fillHTMLMeta(cur, meta.String())
			out = append(out, *cur)
		}
		cur = nil
		meta.Reset()
	}
	for {
		switch z.Next() {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return nil, err
			}
			finish()
			return out, nil
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "a":
				finish()
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						if it, ok := linkItem(string(v)); ok {
							cur = &it
						}
					}
				}
				inLink = true
			case "tr":
				finish()
				inRow = true
			case "script", "style":
				inScript = true
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "a":
				inLink = false
			case "tr", "table", "pre", "ul", "ol":
				finish()
				inRow = false
			case "script", "style":
				inScript = false
			case "td":
				meta.WriteByte(' ')
			}
		case html.TextToken:
			if cur == nil || inLink || inScript {
				continue
			}
			text := string(z.Text())
			if !inRow {
				if i := strings.IndexByte(text, '\n'); i >= 0 {
					meta.WriteString(text[:i])
					finish()
					continue
				}
			}
			meta.WriteString(text)
		}
	}
}

// linkItem makes an item of a link's href: a file or a directory (a
// trailing slash) directly under the page, by a relative href. Sort
// links, the parent, absolute links and links deeper down are not items.
func linkItem(href string) (indexItem, bool) {
	if href == "" || strings.ContainsAny(href, "?#") || strings.HasPrefix(href, "/") || strings.Contains(href, "://") {
		return indexItem{}, false
	}
	dir := strings.HasSuffix(href, "/")
	name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(href, "./"), "/"))
	if err != nil || name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return indexItem{}, false
	}
	return indexItem{name: name, dir: dir, size: -1, sizeUnit: 1}, true
}

// fillHTMLMeta reads the date and the size written after a link.
func fillHTMLMeta(it *indexItem, meta string) {
	meta = strings.ReplaceAll(meta, "\u00a0", " ") // &nbsp;
	it.raw = strings.Join(strings.Fields(meta), " ")
	rest := meta
	for _, d := range indexDates {
		loc := d.re.FindStringSubmatchIndex(meta)
		if loc == nil {
			continue
		}
		s := meta[loc[2]:loc[3]]
		layout := d.layout
		if strings.Count(s, ":") == 2 {
			layout += ":05"
			it.seconds = true
		}
		if t, err := time.Parse(layout, s); err == nil {
			it.mtime = t.Unix()
		}
		rest = meta[loc[3]:]
		break
	}
	m := indexSize.FindStringSubmatch(rest)
	if m == nil || m[1] == "-" {
		return
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return
	}
	unit := int64(1)
	for _, u := range []string{"K", "M", "G", "T", "P"} {
		unit *= 1024
		if m[3] == u {
			it.size, it.sizeUnit = int64(v*float64(unit)), unit
			return
		}
	}
	if !strings.Contains(m[2], ".") {
		it.size = int64(v)
	}
}
