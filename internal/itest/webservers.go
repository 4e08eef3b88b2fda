package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// NginxAutoindex serves root with nginx's autoindex on a free loopback
// port, with extra directives in its server block (autoindex_format json,
// autoindex_exact_size off…), and returns the base URL. nginx stops with
// the test.
func NginxAutoindex(t testing.TB, root, extra string) string {
	t.Helper()
	bin := Need(t, "nginx", "nginx-light")
	dir := t.TempDir()
	port := FreePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	user := "" // nginx started by root serves as nobody, who cannot read the test's 0700 temp dirs
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	WriteFile(t, conf, fmt.Sprintf(`%[5]s
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  types { application/octet-stream iso; }
  server { listen 127.0.0.1:%[2]d; root %[3]s; autoindex on; %[4]s }
}
`, dir, port, root, extra, user))
	Start(t, nil, bin, "-c", conf, "-p", dir)
	WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// Lighttpd serves root with lighttpd's dirlisting on a free loopback port
// and returns the base URL. It stops with the test. Files have types as
// Debian's configuration gives them: lighttpd sends no Last-Modified for
// application/octet-stream.
func Lighttpd(t testing.TB, root string) string {
	t.Helper()
	bin := Need(t, "lighttpd", "lighttpd")
	dir := t.TempDir()
	port := FreePort(t)
	conf := filepath.Join(dir, "lighttpd.conf")
	WriteFile(t, conf, fmt.Sprintf(`server.document-root = %q
server.port = %d
server.bind = "127.0.0.1"
server.errorlog = %q
server.modules = ( "mod_dirlisting", "mod_staticfile" )
dir-listing.activate = "enable"
mimetype.assign = ( ".iso" => "application/x-iso9660-image", ".txt" => "text/plain", "" => "application/octet-stream" )
`, root, port, filepath.Join(dir, "error.log")))
	Start(t, nil, bin, "-D", "-f", conf)
	WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}
