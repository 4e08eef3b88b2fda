package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error is one problem in a configuration file, located by its JSON path
// (for example pools[0].mirrors[2].url).
type Error struct {
	File string
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every problem found in one configuration file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// collector gathers errors while a file is decoded and checked.
type collector struct {
	file string
	errs Errors
}

func (c *collector) add(path, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// Duration is a time.Duration written in JSON as a Go duration string ("2s").
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration string such as "2s"`)
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("must be a duration such as \"2s\" or \"90d\": %q does not parse", s)
	}
	*d = Duration(v)
	return nil
}

// parseDuration reads a Go duration ("2s", "1h30m") or whole days
// ("90d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodeStrict decodes data into v (a pointer to a struct), reporting every
// unknown key and every value of the wrong type with its JSON path, instead
// of stopping at the first one as encoding/json does.
func decodeStrict(data []byte, v any, c *collector) {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		c.add("", "%s", syntaxMessage(data, err))
		return
	}
	decodeValue(raw, reflect.ValueOf(v).Elem(), "", c)
}

func decodeValue(raw json.RawMessage, v reflect.Value, path string, c *collector) {
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			c.add(path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(raw) {
			return
		}
		elem := reflect.New(v.Type().Elem())
		setDefaults(elem)
		decodeValue(raw, elem.Elem(), path, c)
		v.Set(elem)
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			c.add(path, "must be an object")
			return
		}
		fields := jsonFields(v.Type())
		for _, key := range sortedKeys(obj) {
			i, ok := fields[key]
			if !ok {
				c.add(join(path, key), "unknown key (known keys: %s)", knownKeys(fields))
				continue
			}
			decodeValue(obj[key], v.Field(i), join(path, key), c)
		}
	case reflect.Slice:
		if isNull(raw) {
			return
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			c.add(path, "must be an array")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i := range arr {
			setDefaults(s.Index(i).Addr())
			decodeValue(arr[i], s.Index(i), path+"["+strconv.Itoa(i)+"]", c)
		}
		v.Set(s)
	default:
		if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
			c.add(path, "must be %s", kindName(v.Kind()))
		}
	}
}

// defaulter is a configuration block with defaults for its absent keys.
type defaulter interface{ setDefaults() }

// setDefaults fills in the defaults of the value p points to, before it is
// decoded, when it has any.
func setDefaults(p reflect.Value) {
	if d, ok := p.Interface().(defaulter); ok {
		d.setDefaults()
	}
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func jsonFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

func knownKeys(fields map[string]int) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return "a " + k.String()
}

// syntaxMessage turns a JSON syntax error into "line L column C: msg".
func syntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		if strings.Contains(se.Error(), "unexpected end") {
			return fmt.Sprintf("invalid JSON: the file ends too early (line %d)", line)
		}
		return fmt.Sprintf("invalid JSON at line %d column %d: %v", line, col, se)
	}
	if strings.Contains(err.Error(), "unexpected end of JSON input") {
		return "invalid JSON: the file ends too early"
	}
	return "invalid JSON: " + err.Error()
}

func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line = 1 + bytes.Count(data[:offset], []byte("\n"))
	col = int(offset) - bytes.LastIndexByte(data[:offset], '\n')
	return line, col
}
