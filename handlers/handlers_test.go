package handlers_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
	"github.com/dispatcher/dispatcher/web"
)

const testConfig = `{
  "listen": "127.0.0.1:0",
  "trusted_proxies": ["10.0.0.0/8"],
  "pools": [
    {"name": "php", "routes": ["/get/*file"], "strategy": "random",
     "mirrors": [{"name": "a", "url": "http://a.example/php"}, {"name": "b", "url": "https://b.example"}]},
    {"name": "home", "routes": ["/"], "strategy": "roundrobin",
     "mirrors": [{"name": "w1", "url": "http://w1.example"}, {"name": "w2", "url": "http://w2.example"}]},
    {"name": "ads", "routes": ["/ad/:slot"], "strategy": "random", "append_path": false,
     "mirrors": [{"name": "banner", "url": "https://cdn.example/a.png?c=1"}]},
    {"name": "dead", "routes": ["/dead/*file"], "fallback": "https://www.example.org/downloads",
     "mirrors": [{"name": "x", "url": "http://x.example", "weight": 0}]},
    {"name": "gone", "routes": ["/gone/*file"],
     "mirrors": [{"name": "y", "url": "http://y.example", "enabled": false}]},
    {"name": "sticky", "routes": ["/pub/*file"], "strategy": "iphash",
     "mirrors": [{"name": "s1", "url": "http://s1.example"}, {"name": "s2", "url": "http://s2.example"},
                 {"name": "s3", "url": "http://s3.example"}]}
  ]
}`

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// newServer starts a dispatcher on a configuration written to a temp file.
func newServer(t *testing.T, cfg, token string) (*server.Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirrors.json")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{ConfigPath: path, AdminToken: token, Dashboard: web.FS})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	return srv, path
}

// do sends one request through the real engine. remote is the TCP peer.
func do(h http.Handler, method, target, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if remote != "" {
		req.RemoteAddr = remote
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRedirect(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	tests := []struct {
		name       string
		method     string
		target     string
		wantCode   int
		wantPrefix []string // Location starts with one of these
		wantExact  string
	}{
		{"download", "GET", "/get/php-5.2.9.tar.gz/from/a/mirror", 302,
			[]string{"http://a.example/php/get/php-5.2.9.tar.gz/from/a/mirror", "https://b.example/get/php-5.2.9.tar.gz/from/a/mirror"}, ""},
		{"head", "HEAD", "/get/x.iso", 302, []string{"http://a.example/php/get/x.iso", "https://b.example/get/x.iso"}, ""},
		{"query kept", "GET", "/get/x.iso?lang=en&v=2", 302,
			[]string{"http://a.example/php/get/x.iso?lang=en&v=2", "https://b.example/get/x.iso?lang=en&v=2"}, ""},
		{"ad as written", "GET", "/ad/top?x=1", 302, nil, "https://cdn.example/a.png?c=1"},
		{"entry point", "GET", "/", 302, []string{"http://w1.example/", "http://w2.example/"}, ""},
		{"fallback", "GET", "/dead/file.tgz?v=1&mirror=x", 302, nil, "https://www.example.org/downloads/dead/file.tgz?v=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(srv, tt.method, tt.target, "", nil)
			if w.Code != tt.wantCode {
				t.Fatalf("%s %s = %d; want %d (body %q)", tt.method, tt.target, w.Code, tt.wantCode, w.Body)
			}
			loc := w.Header().Get("Location")
			if tt.wantExact != "" && loc != tt.wantExact {
				t.Errorf("Location = %q; want %q", loc, tt.wantExact)
			}
			if tt.wantPrefix != nil && !oneOf(loc, tt.wantPrefix) {
				t.Errorf("Location = %q; want one of %q", loc, tt.wantPrefix)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if w.Header().Get("X-Mirror") == "" {
				t.Errorf("no X-Mirror header")
			}
			body := w.Body.String()
			if tt.method == "HEAD" && body != "" {
				t.Errorf("HEAD body = %q; want empty", body)
			}
			if tt.method == "GET" && tt.name != "fallback" && !strings.Contains(body, `href="`) {
				t.Errorf("body = %q; want a link", body)
			}
		})
	}
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func TestRoundRobinAlternates(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	var got []string
	for range 4 {
		got = append(got, do(srv, "GET", "/", "", nil).Header().Get("X-Mirror"))
	}
	if strings.Join(got, " ") != "w1 w2 w1 w2" {
		t.Errorf("round robin = %v; want w1 w2 w1 w2", got)
	}
}

func TestStatusCodes(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	tests := []struct {
		method, target string
		want           int
		header, value  string
	}{
		{"POST", "/get/x.iso", 405, "Allow", "GET, HEAD"},
		{"PUT", "/", 405, "Allow", "GET, HEAD"},
		{"DELETE", "/ad/top", 405, "Allow", "GET, HEAD"},
		{"GET", "/nothing/here", 404, "", ""},
		{"GET", "/get/", 302, "", ""},
		{"GET", "/gone/x", 503, "Retry-After", "10"},
		{"GET", "/get/../etc/passwd", 400, "", ""},
		{"GET", "/get/a/%2e%2e/b", 400, "", ""},
		{"GET", "/healthz", 200, "", ""},
		{"GET", "/readyz", 200, "", ""},
		{"POST", "/api/reload", 403, "", ""},
	}
	for _, tt := range tests {
		w := do(srv, tt.method, tt.target, "", nil)
		if w.Code != tt.want {
			t.Errorf("%s %s = %d; want %d", tt.method, tt.target, w.Code, tt.want)
		}
		if tt.header != "" && w.Header().Get(tt.header) != tt.value {
			t.Errorf("%s %s: %s = %q; want %q", tt.method, tt.target, tt.header, w.Header().Get(tt.header), tt.value)
		}
		if w.Code == 404 || w.Code == 400 || w.Code == 503 || w.Code == 405 {
			if loc := w.Header().Get("Location"); loc != "" {
				t.Errorf("%s %s: %d with Location %q", tt.method, tt.target, w.Code, loc)
			}
		}
	}
}

// TestHostilePaths sends paths built to smuggle a host, a header or a
// fragment into the Location: each answer is a 4xx or a 302 whose Location
// stays on a configured mirror.
func TestHostilePaths(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	hosts := map[string]bool{"a.example": true, "b.example": true, "w1.example": true, "w2.example": true,
		"s1.example": true, "s2.example": true, "s3.example": true}
	targets := []string{
		"//evil.example/", "///evil.example", "/get//evil.example/x", "/get/%0d%0aSet-Cookie:%20x=1",
		"/get/x%0aLocation:%20http://evil.example", "/get/\\evil.example", "/get/%5C%5Cevil.example",
		"/get/@evil.example", "/get/x%23frag", "/get/x?%0d%0a=1", "/get/x?a=%0a", "/pub/%2F%2Fevil.example",
		"/get/x?mirror=evil.example", "/get/x?country=..", "/get/%ff%fe", "/get/x?q=<script>",
		"/pub/..%2f..%2fetc", "/get/" + strings.Repeat("a", 4000),
	}
	for _, target := range targets {
		req := httptest.NewRequest("GET", "/", nil)
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("bad test target %q: %v", target, err)
		}
		req.URL = u
		req.RequestURI = target
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		t.Logf("GET %q = %d %q", target, w.Code, w.Header().Get("Location"))
		if w.Code >= 400 && w.Code < 500 {
			continue
		}
		if w.Code != 302 {
			t.Errorf("GET %q = %d; want 4xx or 302", target, w.Code)
			continue
		}
		loc := w.Header().Get("Location")
		if strings.ContainsAny(loc, "\r\n \\#<>\"") {
			t.Errorf("GET %q: Location %q has a forbidden byte", target, loc)
		}
		pu, err := url.Parse(loc)
		if err != nil || !hosts[pu.Host] {
			t.Errorf("GET %q: Location %q is not on a configured mirror", target, loc)
		}
	}
}

func TestForwardedFor(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	// The sticky pool hashes the client address: the same address gives the
	// same mirror whichever way it arrives.
	direct := func(ip string) string {
		return do(srv, "GET", "/pub/f", ip+":1234", nil).Header().Get("X-Mirror")
	}
	via := func(peer, xff string) string {
		return do(srv, "GET", "/pub/f", peer+":1234", map[string]string{"X-Forwarded-For": xff}).Header().Get("X-Mirror")
	}
	// Find two client addresses that hash to different mirrors.
	a, b := "198.51.100.1", ""
	for i := 2; i < 250 && b == ""; i++ {
		cand := "198.51.100." + strconv.Itoa(i)
		if direct(cand) != direct(a) {
			b = cand
		}
	}
	if b == "" {
		t.Fatal("every address hashed to one mirror")
	}
	if got, want := via("10.1.1.1", b), direct(b); got != want {
		t.Errorf("trusted proxy with X-Forwarded-For %s: mirror %s; want %s (the client's)", b, got, want)
	}
	if got, want := via("10.1.1.1", "garbage, "+b+", 10.9.9.9"), direct(b); got != want {
		t.Errorf("right-most untrusted: mirror %s; want %s", got, want)
	}
	if got, want := via(a, b), direct(a); got != want {
		t.Errorf("untrusted peer %s spoofing %s: mirror %s; want %s (the peer's)", a, b, got, want)
	}
	fw := do(srv, "GET", "/pub/f", "10.1.1.1:1", map[string]string{"Forwarded": `for="` + b + `:443";proto=https`}).Header().Get("X-Mirror")
	if fw != direct(b) {
		t.Errorf("Forwarded for=%s: mirror %s; want %s", b, fw, direct(b))
	}
}

func TestLinkHeader(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	w := do(srv, "GET", "/get/x.iso?mirror=a", "", nil)
	if w.Header().Get("X-Mirror") != "a" {
		t.Fatalf("?mirror=a went to %q", w.Header().Get("X-Mirror"))
	}
	if got, want := w.Header().Get("Location"), "http://a.example/php/get/x.iso"; got != want {
		t.Errorf("Location = %q; want %q (control parameter removed)", got, want)
	}
	if got, want := w.Header().Get("Link"), "<https://b.example/get/x.iso>; rel=duplicate; pri=1"; got != want {
		t.Errorf("Link = %q; want %q", got, want)
	}
	if l := do(srv, "GET", "/ad/top", "", nil).Header().Get("Link"); l != "" {
		t.Errorf("ad pool Link = %q; want none (creatives are not duplicates)", l)
	}
}

func TestMirrorlist(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	w := do(srv, "GET", "/get/x.iso?mirrorlist", "", map[string]string{"Accept": "application/json"})
	if w.Code != 200 {
		t.Fatalf("mirrorlist = %d", w.Code)
	}
	var body struct {
		Mirrors []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"mirrors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Mirrors) != 2 || !strings.HasSuffix(body.Mirrors[0].URL, "/get/x.iso") {
		t.Errorf("mirrorlist = %+v; want 2 mirrors with the file path", body.Mirrors)
	}
	h := do(srv, "GET", "/get/x.iso?mirrorlist", "", nil)
	if !strings.Contains(h.Body.String(), `<a href="http://a.example/php/get/x.iso">a</a>`) {
		t.Errorf("HTML mirrorlist = %q", h.Body)
	}
}

func TestAdmin(t *testing.T) {
	srv, path := newServer(t, testConfig, "s3cret")
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	if w := do(srv, "POST", "/api/pools/home/mirrors/w1/drain", "", map[string]string{"Authorization": "Bearer nope"}); w.Code != 401 {
		t.Errorf("wrong token = %d; want 401", w.Code)
	}
	for _, scheme := range []string{"bearer", "BEARER", "Bearer  "} { // RFC 7235: case-insensitive
		if w := do(srv, "POST", "/api/pools/home/mirrors/nope/drain", "", map[string]string{"Authorization": scheme + " s3cret"}); w.Code != 404 {
			t.Errorf("scheme %q with the right token = %d; want 404 (past the token check)", scheme, w.Code)
		}
	}
	if w := do(srv, "POST", "/api/pools/home/mirrors/nope/drain", "", auth); w.Code != 404 {
		t.Errorf("unknown mirror = %d; want 404", w.Code)
	}
	if w := do(srv, "POST", "/api/pools/home/mirrors/w1/drain", "", auth); w.Code != 200 {
		t.Fatalf("drain = %d %s", w.Code, w.Body)
	}
	for range 4 {
		if m := do(srv, "GET", "/", "", nil).Header().Get("X-Mirror"); m != "w2" {
			t.Fatalf("after draining w1 got %s", m)
		}
	}
	// A bad file is rejected and the old configuration keeps serving.
	if err := os.WriteFile(path, []byte(`{"pools": [{"name": "home", "routes": ["/"], "mirrors": [{"name": "z", "url": "ftp://z"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	w := do(srv, "POST", "/api/reload", "", auth)
	if w.Code != 422 || !strings.Contains(w.Body.String(), "pools[0].mirrors[0].url") {
		t.Errorf("bad reload = %d %s; want 422 naming pools[0].mirrors[0].url", w.Code, w.Body)
	}
	if m := do(srv, "GET", "/", "", nil).Header().Get("X-Mirror"); m != "w2" {
		t.Errorf("after a rejected reload got %s; want w2 (old config, w1 still drained)", m)
	}
	// A good file is taken; the drain holds across the reload.
	good := strings.Replace(testConfig, `"name": "w2", "url": "http://w2.example"`, `"name": "w2", "url": "http://w2-new.example"`, 1)
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := do(srv, "POST", "/api/reload", "", auth); w.Code != 200 {
		t.Fatalf("good reload = %d %s", w.Code, w.Body)
	}
	if loc := do(srv, "GET", "/", "", nil).Header().Get("Location"); loc != "http://w2-new.example/" {
		t.Errorf("after reload Location = %q; want http://w2-new.example/", loc)
	}
	if w := do(srv, "POST", "/api/pools/home/mirrors/w1/enable", "", auth); w.Code != 200 {
		t.Fatalf("enable = %d", w.Code)
	}
	seen := map[string]bool{}
	for range 4 {
		seen[do(srv, "GET", "/", "", nil).Header().Get("X-Mirror")] = true
	}
	if !seen["w1"] || !seen["w2"] {
		t.Errorf("after enable saw %v; want both", seen)
	}
}

func TestStatusAndMetrics(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	for range 3 {
		do(srv, "GET", "/ad/top", "", nil)
	}
	do(srv, "GET", "/gone/x", "", nil)
	w := do(srv, "GET", "/api/status", "", nil)
	var st handlers.Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(st.Pools) != 6 || st.ConfigSHA256 == "" || st.Redis.Configured {
		t.Errorf("status = %+v", st)
	}
	ads := st.Pools[2]
	if ads.Name != "ads" || ads.Mirrors[0].Redirects != 3 || ads.Mirrors[0].EffectiveWeight != 1 || !ads.Mirrors[0].Up {
		t.Errorf("ads pool = %+v; want 3 redirects, effective weight 1, up", ads)
	}
	if gone := st.Pools[4].Mirrors[0]; gone.Enabled || gone.EffectiveWeight != 0 {
		t.Errorf("disabled mirror = %+v", gone)
	}
	raw := map[string]any{}
	json.Unmarshal(w.Body.Bytes(), &raw)
	m0 := raw["pools"].([]any)[0].(map[string]any)["mirrors"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "url", "enabled", "up", "weight", "effective_weight", "bandwidth_bps", "capacity_bps",
		"utilization", "redirects", "last_probe", "probe_error", "last_poll", "poll_error"} {
		if _, ok := m0[k]; !ok {
			t.Errorf("status mirror lacks %q", k)
		}
	}
	mw := do(srv, "GET", "/metrics", "", nil)
	ms := itest.ParseMetrics(t, mw.Body)
	for _, want := range []struct {
		name   string
		labels []string
		value  float64
	}{
		{"dispatcher_redirects_total", []string{"pool", "ads", "mirror", "banner", "strategy", "random"}, 3},
		{"dispatcher_no_mirror_total", []string{"pool", "gone"}, 1},
		{"dispatcher_request_duration_seconds", []string{"pool", "ads"}, 3},
	} {
		if v, ok := ms.Get(want.name, want.labels...); !ok || v != want.value {
			t.Errorf("%s%v = %v (found %v); want %v", want.name, want.labels, v, ok, want.value)
		}
	}
	if typ := ms["dispatcher_redirects_total"].GetType().String(); typ != "COUNTER" {
		t.Errorf("dispatcher_redirects_total is a %s", typ)
	}
	if d := do(srv, "GET", "/status", "", nil); d.Code != 200 || !strings.Contains(d.Body.String(), "/status/app.js") {
		t.Errorf("dashboard = %d", d.Code)
	}
	if d := do(srv, "GET", "/status/app.js", "", nil); d.Code != 200 || !strings.Contains(d.Header().Get("Content-Type"), "javascript") {
		t.Errorf("app.js = %d %q", d.Code, d.Header().Get("Content-Type"))
	}
}

// TestCheckRoutes: pool routes may not take a built-in endpoint, repeat
// an earlier route, or collide with one in the router; the rest pass, and
// an engine with them starts.
func TestCheckRoutes(t *testing.T) {
	names := []string{"one", "two", "three"}
	routes := [][]string{
		{"/get/*file", "/healthz", "/metrics"},
		{"/get/*file", "/get/:name", "/pub/*file"},
		{"/ad/:slot", "/"},
	}
	got := map[string]string{}
	for _, p := range handlers.CheckRoutes(names, routes) {
		got[fmt.Sprintf("pools[%d].routes[%d]", p.Pool, p.Route)] = p.Msg
	}
	want := map[string]string{
		"pools[0].routes[1]": `route "/healthz" is already used by a built-in endpoint`,
		"pools[0].routes[2]": `route "/metrics" is already used by a built-in endpoint`,
		"pools[1].routes[0]": `route "/get/*file" is already used by pools[0] (one)`,
		"pools[1].routes[1]": `route "/get/:name" collides with another route`,
	}
	for path, msg := range want {
		if !strings.HasPrefix(got[path], msg) {
			t.Errorf("%s: %q; want %q", path, got[path], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems %v; want only %v", got, want)
	}
}

// TestBodyLength: a 302's body has the same length whichever mirror is
// picked (ab counts a changing length as a failed request), and still
// holds the link.
func TestBodyLength(t *testing.T) {
	srv, _ := newServer(t, `{"pools": [
	  {"name": "files", "routes": ["/get/*file"], "mirrors": [
	    {"name": "a", "url": "http://a.example"},
	    {"name": "b", "url": "https://mirror-b.example.org/pub/"},
	    {"name": "c", "url": "http://c.example/x&y's"}]},
	  {"name": "ads", "routes": ["/ad/:slot"], "append_path": false, "mirrors": [
	    {"name": "a", "url": "https://cdn.example/a.png"},
	    {"name": "b", "url": "https://cdn.example/creatives/b-long-name.png?v=1&x=2"}]}]}`, "")
	for _, target := range []string{"/get/x.iso?k=v&w=<z>", "/ad/top"} {
		lengths := map[int][]string{}
		for _, m := range []string{"a", "b", "c"} {
			if target == "/ad/top" && m == "c" {
				continue
			}
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			w := do(srv, "GET", target+sep+"mirror="+m, "", nil)
			if w.Code != 302 || w.Header().Get("X-Mirror") != m {
				t.Fatalf("GET %s?mirror=%s = %d to %q", target, m, w.Code, w.Header().Get("X-Mirror"))
			}
			body := w.Body.String()
			if !strings.Contains(body, `href="`+html.EscapeString(w.Header().Get("Location"))+`"`) {
				t.Errorf("body %q lacks the link to %q", body, w.Header().Get("Location"))
			}
			lengths[len(body)] = append(lengths[len(body)], m)
		}
		if len(lengths) != 1 {
			t.Errorf("GET %s: body lengths differ by mirror: %v", target, lengths)
		}
	}
}

// TestResponseSize: a 15 KB request path gives a response of about twice
// the Location (header and body), not one per Link entry more.
func TestResponseSize(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	target := "/get/" + strings.Repeat("a", 15000) + ".iso"
	w := do(srv, "GET", target, "", nil)
	if w.Code != 302 {
		t.Fatalf("GET a 15 KB path = %d", w.Code)
	}
	loc := len(w.Header().Get("Location"))
	size := w.Body.Len()
	for k, vs := range w.Header() {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	if size > 2*loc+2048 {
		t.Errorf("response of %d bytes for a Location of %d; want at most 2×Location + 2 KiB", size, loc)
	}
	if l := w.Header().Get("Link"); len(l) > 1024 {
		t.Errorf("Link header of %d bytes; want at most 1 KiB", len(l))
	}
	if l := do(srv, "GET", "/get/short.iso?mirror=a", "", nil).Header().Get("Link"); l == "" {
		t.Errorf("a short path lost its Link header")
	}
	// The 1 KiB bounds the Link value alone: with a path of 439 bytes two
	// entries of 480 fit, though the Location and they would not.
	if l := do(srv, "GET", "/pub/"+strings.Repeat("a", 430)+".iso", "", nil).Header().Get("Link"); strings.Count(l, "rel=duplicate") != 2 || len(l) > 1024 {
		t.Errorf("Link of %d bytes naming %d mirrors; want both other mirrors within 1 KiB", len(l), strings.Count(l, "rel=duplicate"))
	}
}

// TestMirrorlistLeftOut: ?mirrorlist lists, after the mirrors a client
// can get, the ones it cannot, each with the reason /api/explain gives
// for the same client: disabled, drained (weight 0), reachable over IPv6
// only for an IPv4 client, and kept for another country. An IPv6 client
// gets the IPv6 mirror, and the list says so.
func TestMirrorlistLeftOut(t *testing.T) {
	srv, _ := newServer(t, `{"pools": [{"name": "lo", "routes": ["/lo/*file"], "mirrors": [
	  {"name": "ok", "url": "http://ok.example"},
	  {"name": "off", "url": "http://off.example", "enabled": false},
	  {"name": "zero", "url": "http://zero.example", "weight": 0},
	  {"name": "v6", "url": "http://[2001:db8::1]"},
	  {"name": "jp", "url": "http://jp.example", "country": "JP", "only": "country"}]}]}`, "")
	type entry struct{ Name, Country, Reason string }
	list := func(remote string) (ranked []string, left []entry) {
		w := do(srv, "GET", "/lo/x.iso?mirrorlist", remote, map[string]string{"Accept": "application/json"})
		var body struct {
			Mirrors []struct{ Name string } `json:"mirrors"`
			LeftOut []entry                 `json:"left_out"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v\n%s", err, w.Body)
		}
		for _, m := range body.Mirrors {
			ranked = append(ranked, m.Name)
		}
		return ranked, body.LeftOut
	}
	ranked, left := list("192.0.2.1:1")
	want := map[string]string{"off": "disabled in the configuration", "zero": "weight 0 in the configuration",
		"v6": "family: ", "jp": "only: "}
	if strings.Join(ranked, ",") != "ok" || len(left) != len(want) {
		t.Fatalf("ranked %v, left out %+v; want ok, and the other four left out", ranked, left)
	}
	// The reasons are explain's, for the same client.
	w := do(srv, "GET", "/api/explain?path=/lo/x.iso", "192.0.2.1:1", nil)
	var ex struct {
		Mirrors []struct{ Name, Reason string } `json:"mirrors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, m := range ex.Mirrors {
		reasons[m.Name] = m.Reason
	}
	for _, e := range left {
		if !strings.HasPrefix(e.Reason, want[e.Name]) || e.Reason != reasons[e.Name] {
			t.Errorf("%s left out because %q; want %q…, as explain says (%q)", e.Name, e.Reason, want[e.Name], reasons[e.Name])
		}
	}
	h := do(srv, "GET", "/lo/x.iso?mirrorlist", "192.0.2.1:1", nil)
	if !strings.Contains(h.Body.String(), "<h2>Left out for you</h2>") || !strings.Contains(h.Body.String(), "<li><b>off</b>: disabled in the configuration</li>") {
		t.Errorf("HTML mirrorlist:\n%s", h.Body)
	}
	// An IPv6 client: v6 is ranked too.
	if ranked, left := list("[2001:db8::5]:1"); !slices.Contains(ranked, "v6") || len(left) != 3 {
		t.Errorf("IPv6 client: ranked %v, left out %+v", ranked, left)
	}
}
