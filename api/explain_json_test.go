package api

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// fill sets every field reachable from v, through pointers, slices and
// embedded structs, to a value that is not its zero: a field added to the
// explanation and not to AppendJSON makes the comparison fail. seed
// varies the strings and numbers between calls.
func fill(v reflect.Value, seed *int) {
	*seed++
	strs := []string{"mirror-1", `quote " and \ back`, "<a&b>", "naïve é", "line\nbreak\ttab\x01", "bad \xff utf8", "\u2028sep"}
	floats := []float64{1, 0.1, 0.25, 1234.5, 1e-7, 2.5e21, 3, 0.001, 1e15, 1e16 + 2, 0.3333333333333333, 250}
	switch v.Kind() {
	case reflect.String:
		v.SetString(strs[*seed%len(strs)])
	case reflect.Float64:
		v.SetFloat(floats[*seed%len(floats)])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*seed) * 1000003)
	case reflect.Uint32:
		v.SetUint(uint64(*seed) * 65537)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), seed)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), seed)
		}
	default:
		panic("fill: add a case for " + v.Kind().String())
	}
}

func TestExplanationJSONIsEncodingJSON(t *testing.T) {
	var full Explanation
	seed := 0
	fill(reflect.ValueOf(&full).Elem(), &seed)
	// A mirror with every omitempty field empty and every pointer nil.
	sparse := full.Mirrors[1]
	sparse.Factors = ExplainFactors{WeightFactors: WeightFactors{Health: -0.5, Headroom: math.Copysign(0, -1)}}
	full.Mirrors = append(full.Mirrors, sparse)
	cases := map[string]Explanation{
		"every field":   full,
		"zero":          {},
		"no mirrors":    {Path: "/a", Mirrors: []ExplainedMirror{}, File: &ExplainedFile{}},
		"client floats": {Client: ExplainedClient{Lat: new(52.52), Lon: new(-13.4)}},
	}
	for name, ex := range cases {
		want, err := json.Marshal(&ex)
		if err != nil {
			t.Fatal(err)
		}
		if got := ex.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestAppendFloatIsEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789012345, 1e15, 1e15 + 0.5, -1e15, 2.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, 4.9406564584124654e-324} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
	if got := appendFloat(nil, math.NaN()); string(got) != "null" {
		t.Errorf("NaN: got %s, want null", got)
	}
}
