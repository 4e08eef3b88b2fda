package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeafDependencies: the configuration is read by the server and by
// tools alike; it must not pull in the geo database reader or the web
// framework.
func TestLeafDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, heavy := range []string{"github.com/oschwald/maxminddb-golang", "github.com/gin-gonic/gin"} {
		if strings.Contains(string(out), heavy) {
			t.Errorf("config depends on %s", heavy)
		}
	}
}
