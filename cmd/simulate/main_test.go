package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateJSON runs the command for a short day: the JSON has a run
// per strategy and mode with the documented keys, and -svg writes a plot
// per run.
func TestSimulateJSON(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	err := run([]string{"-duration", "3h", "-warmup", "30m", "-strategy", "random,geo", "-mirrors", "100/DE,400x2/US,1000/BR",
		"-json", "-svg", dir}, &out, &errs)
	if err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	var doc struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Runs) != 4 {
		t.Fatalf("%d runs, %v:\n%s", len(doc.Runs), err, out.String())
	}
	for _, r := range doc.Runs {
		for _, k := range []string{"strategy", "feedback", "balance", "saturated_s", "p50_s", "p95_s", "weight_stddev", "settle_s"} {
			if _, ok := r[k]; !ok {
				t.Errorf("run %v lacks %q", r["strategy"], k)
			}
		}
	}
	for _, name := range []string{"random-feedback-on.svg", "random-feedback-off.svg", "geo-feedback-on.svg", "geo-feedback-off.svg"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.HasPrefix(data, []byte("<svg")) || !bytes.Contains(data, []byte("<polyline")) {
			t.Errorf("%s: %v, %d bytes", name, err, len(data))
		}
	}
}

// TestSimulateTable prints the table; bad flags are refused with the
// reason.
func TestSimulateTable(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run([]string{"-duration", "2h", "-warmup", "30m", "-strategy", "iphash", "-change", "none"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "balance") || strings.Count(out.String(), "iphash") != 2 {
		t.Errorf("table:\n%s", out.String())
	}
	for args, want := range map[string]string{
		"-mirrors 100,fast":       "capacity",
		"-mirrors 100x0":          "weight",
		"-strategy fastest":       "unknown strategy",
		"-feedback maybe":         "-feedback",
		"-law magic":              "-law",
		"-change m9@1-2":          "-change",
		"-spike 14x2":             "-spike",
		"-duration 1h extra-word": "unexpected argument",
	} {
		err := run(strings.Fields(args+" -duration 1h -warmup 10m"), &out, &errs)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error mentioning %q", args, err, want)
		}
	}
}
