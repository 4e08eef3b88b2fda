package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestComposeFiles checks what can be checked of the compose demo without
// a Docker engine: the YAML parses, every file it mounts or builds from
// exists, and the dispatchers' configuration passes -check.
func TestComposeFiles(t *testing.T) {
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build       any      `yaml:"build"`
			Image       string   `yaml:"image"`
			Volumes     []string `yaml:"volumes"`
			Ports       []string `yaml:"ports"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"redis", "dispatcher1", "dispatcher2", "dispatcher3", "mirror1", "mirror2", "mirror3", "snmp"} {
		if _, ok := compose.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	for name, s := range compose.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if _, err := os.Stat(filepath.Join(root, src)); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s beyond loopback", name, p)
			}
		}
	}
	// The three dispatchers run one image, built once, each checked on
	// /readyz.
	builds := 0
	for _, name := range []string{"dispatcher1", "dispatcher2", "dispatcher3"} {
		s := compose.Services[name]
		if s.Build != nil {
			builds++
		}
		if s.Image != "dispatcher-demo/dispatcher:local" || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "/readyz") {
			t.Errorf("service %s: image %q, healthcheck %q; want the shared image, checked on /readyz", name, s.Image, s.Healthcheck.Test)
		}
	}
	if builds != 1 {
		t.Errorf("%d dispatcher services build the image; want one", builds)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ca-certificates", "rsync", "HEALTHCHECK", "/readyz"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the Dockerfile lacks %s", want)
		}
	}
	if ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore")); err != nil || !strings.Contains(string(ignore), "/dispatcher\n") {
		t.Errorf(".dockerignore does not leave out the built ./dispatcher binary (%v)", err)
	}
	for _, f := range []string{"Dockerfile", "docker/snmpsim.Dockerfile", "docker/snmp/mirror1.snmprec"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Error(err)
		}
	}
	cmd := exec.Command(itest.Binary(t), "-check", "-config", "docker/mirrors.compose.json")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker/mirrors.compose.json: %v\n%s", err, out)
	}
}
